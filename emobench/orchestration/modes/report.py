"""``-m report``: the paper's table and figures from every aggregate.json under ``-p``;
``--html``: also the static leaderboard site (docs/report.md)."""

from __future__ import annotations

from pathlib import Path

from emobench.core.experiment import setup_logging
from emobench.orchestration import runs
from emobench.orchestration.request import Request


def run(request: Request) -> None:
    from emobench.orchestration import tables

    setup_logging(None, request.verbose)
    root = Path(request.expdir) if request.expdir else runs.RESULTS / "downstream"
    out = runs.RESULTS / "report" / request.expname if request.expname else root / "report"
    for path in tables.write_report(root, out, request.downstream or "emotion", html=request.html):
        print(path)
    print((out / "table.md").read_text(encoding="utf-8"))
    if request.html:
        print(f"leaderboard: open {(out / 'index.html').resolve().as_uri()} in a browser")
