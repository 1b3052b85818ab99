#!/usr/bin/env python3
"""Train or evaluate a downstream task on a frozen upstream (s3prl's flags).

    python run_downstream.py -m train -u fbank_no_cmvn -d emotion --demo -n demo
    python run_downstream.py -m evaluate -e results/downstream/demo/dev-best.ckpt
"""

import sys

from emobench.cli import main

if __name__ == "__main__":
    sys.exit(main())
