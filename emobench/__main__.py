"""``python -m emobench``: the command line (the same as ``emobench`` and ``run_downstream.py``)."""

import sys

from emobench.orchestration.cli import main

if __name__ == "__main__":  # importing the module (as the doctests do) runs nothing
    sys.exit(main())
