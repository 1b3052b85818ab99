"""``-m sweep -c configs/sweeps/<name>.yaml``: a whole table as a job graph on a launcher."""

from __future__ import annotations

from emobench.core.experiment import setup_logging
from emobench.orchestration.request import Request


def run(request: Request) -> int:
    from emobench.orchestration.sweep import command

    setup_logging(None, request.verbose)
    return command.main(request.config, request.launcher, request.dry_run, request.throughput)
