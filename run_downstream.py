#!/usr/bin/env python3
"""Train or evaluate a downstream task on a frozen upstream (s3prl's flags).

    python run_downstream.py -m train -u fbank_no_cmvn -d emotion --demo -n demo
    python run_downstream.py -m evaluate -e results/downstream/demo/dev-best.ckpt

The same command line is installed as ``emobench`` (``pip install .``) and ``python -m emobench``.
"""

import sys

try:
    from emobench.orchestration.cli import main
except ModuleNotFoundError as exc:  # the packages live under emobench.* only once installed
    sys.exit(f"error: {exc}: the toolkit is not installed in this Python ({sys.executable}); "
             "run `bash quickstart.sh demo` (it sets up .venv) or `pip install -e .`, then use "
             ".venv/bin/python run_downstream.py ...")

if __name__ == "__main__":
    sys.exit(main())
