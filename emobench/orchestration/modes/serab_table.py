"""``-m serab_table -p RESULTS``: SERAB's per-corpus accuracy table with UM / WM / GM from the
probe runs under a results folder (docs/serab.md)."""

from __future__ import annotations

from pathlib import Path

from emobench.core.errors import UserError
from emobench.core.experiment import setup_logging
from emobench.orchestration.request import Request


def run(request: Request) -> None:
    from emobench.orchestration import serab_table

    setup_logging(None, request.verbose)
    if not request.expdir:
        raise UserError("-m serab_table needs -p RESULTS_FOLDER (the probe runs, e.g. a sweep's "
                        "output)")
    out = Path(request.expdir) / "report"
    paths = serab_table.write(request.expdir, out)
    for path in paths:
        print(path)
    print(paths[0].read_text(encoding="utf-8"))
