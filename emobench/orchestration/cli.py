"""``run_downstream.py`` / ``emobench``: s3prl's command line, for the toolkit's tasks.

The parser turns the arguments into one typed :class:`Request`; the mode named by ``-m`` (from
the mode registry, :mod:`emobench.orchestration.modes`) runs it. Heavy libraries (torch, the
upstreams) are imported by the modes that use them, so ``-h`` and the listings start fast.
"""

from __future__ import annotations

import argparse
import gc
import sys
from typing import Sequence

from emobench.core.errors import UserError
from emobench.orchestration.modes import MODES
from emobench.orchestration.request import Request

# The cyclic garbage collector's thresholds for a command-line process (Python's default:
# 700, 10, 10). Importing torch and training a small head create millions of short-lived
# container objects: with the default, a warm 40-epoch run spent 0.24-0.28 s of its ~4 s CPU in
# 417 collections; with these, 0.09 s in 29 (docs/performance.md). Only the command line sets
# them; importing emobench as a library leaves the process's collector alone.
GC_THRESHOLDS = (10_000, 10, 10)


def _modes_help() -> str:
    width = max(len(n) for n in MODES.names())
    return "modes (-m):\n" + "\n".join(
        f"  {name:<{width}}  {MODES.entry(name).meta.get('description', '')}"
        for name in MODES.names())


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="run_downstream.py", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_modes_help() + "\n\nexample: python run_downstream.py -m train -u fbank_no_cmvn "
                               "-d emotion --demo -n demo")
    p.add_argument("-m", "--mode", choices=MODES.names(), default="train")
    p.add_argument("-u", "--upstream", help="upstream name (see --list-upstreams); a comma "
                                            "list fuses several (multitask: docs/fusion.md)")
    p.add_argument("-k", "--upstream_ckpt",
                   help="local checkpoint for the upstream (a comma list for several)")
    p.add_argument("-d", "--downstream", help="task name (see --list-tasks)")
    p.add_argument("-c", "--config", help="YAML config file (e.g. configs/emotion/emodb.yaml)")
    p.add_argument("-o", "--override", action="append",
                   help='overrides "config.a.b=v,,config.c=w" (YAML values); may be repeated')
    p.add_argument("-n", "--expname", help="experiment name: folder results/downstream/<n>")
    p.add_argument("-p", "--expdir", help="experiment folder (instead of -n)")
    p.add_argument("-e", "--past_exp", help="checkpoint or experiment folder: evaluate or resume")
    p.add_argument("-a", "--auto_resume", action="store_true",
                   help="resume from the experiment folder's last.ckpt when present")
    p.add_argument("-l", "--upstream_layer_selection", type=int,
                   help="use this hidden state alone instead of the weighted sum")
    p.add_argument("--upstream_feature_normalize", action="store_true",
                   help="layer-norm every hidden state before the weighted sum")
    p.add_argument("--upstream_padded_batch", action="store_true", default=None,
                   help="run the upstream on padded batches (faster; features of some upstreams "
                        "then differ from the utterance alone: docs/upstreams.md)")
    p.add_argument("-f", "--upstream_trainable", action="store_true",
                   help="fine-tune the upstream with the head (frames path; docs/finetuning.md)")
    p.add_argument("--upstream_trainable_layers", type=int, metavar="N",
                   help="with -f: fine-tune only the top N transformer layers")
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--folds",
                   help="train: 'all' folds of the condition or a list '1,3', each into fold<k>/, "
                        "then aggregate.json (mean +- std over folds) for -m report")
    p.add_argument("--seeds", type=int, default=1,
                   help="train: run seeds SEED..SEED+N-1 (folders seed<k>/) and write mean +- std "
                        "and the best-on-validation seed to seeds.json")
    p.add_argument("--overwrite", action="store_true",
                   help="--seeds/--folds: replace the single run already in the folder")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    p.add_argument("--demo", action="store_true",
                   help="generate the task's demo corpus under results/demo/ and run on it")
    p.add_argument("--list-upstreams", action="store_true", help="list upstream names and exit")
    p.add_argument("--list-tasks", action="store_true", help="list task names and exit")
    p.add_argument("--shard", help="extract: the i-th of n parts (i/n), for parallel jobs")
    p.add_argument("--recipe", help="prepare: corpus recipe (e.g. emodb)")
    p.add_argument("--source", help="prepare: the corpus as distributed")
    p.add_argument("--target", help="prepare: folder for the label files")
    p.add_argument("--launcher", default="local",
                   help="sweep: where the jobs run: local (worker processes) or slurm (submitit)")
    p.add_argument("--dry-run", action="store_true",
                   help="sweep: print the job graph and the cost estimate, run nothing")
    p.add_argument("--throughput",
                   help="sweep --dry-run: measured extraction throughput file (default "
                        "configs/sweeps/throughput.yaml)")
    p.add_argument("--from", dest="fuse_from",
                   help="fuse: each target's source experiment, 'emotion=A,age=B' or a YAML "
                        "file, or 'auto' (per target the best on validation among -e A,B)")
    p.add_argument("--generated", help="score_generation: folder of generated clips, one "
                                        "subfolder per targeted emotion")
    p.add_argument("--ratings", help="score_generation: CSV of human ratings (HEEP, S_GEN)")
    p.add_argument("--audio", help="inference: an audio file, a folder of them or a .txt list")
    p.add_argument("--html", action="store_true",
                   help="report: also the static HTML leaderboard (index.html, docs/report.md)")
    p.add_argument("experiments", nargs="*", metavar="EXP",
                   help="compare: the two experiment folders A B (docs/statistics.md)")
    p.add_argument("--resamples", type=int, help="compare: bootstrap resamples (default 1000)")
    p.add_argument("--bootstrap-seed", type=int, help="compare: bootstrap seed (default 0)")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    gc.set_threshold(*GC_THRESHOLDS)
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.experiments and args.mode != "compare":
        parser.error(f"unexpected arguments {args.experiments} (only -m compare takes folders)")
    try:
        if args.list_upstreams or args.list_tasks:
            from emobench.orchestration import listing

            listing.upstreams() if args.list_upstreams else listing.tasks()
            return 0
        result = MODES.get(args.mode)(Request.from_args(args, argv))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:  # an incomplete environment, not a bad input
        print(f"error: {exc} (in {sys.executable}): the toolkit or one of its dependencies is "
              "not installed here; `bash quickstart.sh demo` sets up .venv from the lock file, "
              "or `pip install .` into your own environment", file=sys.stderr)
        return 2
    return result if isinstance(result, int) and not isinstance(result, bool) else 0
