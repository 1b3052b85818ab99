"""The modes of the command line (``-m NAME``), one module each, registered in :data:`MODES`.

A mode module exposes ``run(request) -> int | None | dict`` (an int is the exit status). A new
mode is one module here plus one line below; ``-h`` lists the modes from this registry.
"""

from emobench.core.registry import Registry

MODES = Registry("mode")
_HERE = "emobench.orchestration.modes"
MODES.register("train", f"{_HERE}.train:run",
               description="train (select on dev, evaluate dev and test); --folds, --seeds, -a")
MODES.register("evaluate", f"{_HERE}.evaluate:run",
               description="evaluate a checkpoint or experiment folder (-e)")
MODES.register("inference", f"{_HERE}.inference:run",
               description="predict new audio with a trained model (-e, --audio file|folder|"
                           "list.txt): one CSV row per file")
MODES.register("extract", f"{_HERE}.extract:run",
               description="fill the pooled-feature cache (--shard i/n for parallel jobs)")
MODES.register("prepare", f"{_HERE}.prepare:run",
               description="a corpus recipe writes label files (--recipe, --source, --target)")
MODES.register("audit", f"{_HERE}.audit:run",
               description="leakage audit of a partition (exit 1 when leaky)")
MODES.register("report", f"{_HERE}.report:run",
               description="the paper's table and figures from a results folder (-p)")
MODES.register("fuse", f"{_HERE}.fuse:run",
               description="hybrid of finished multitask experiments: each target's predictions "
                           "from one (--from), rescored")
MODES.register("sweep", f"{_HERE}.sweep:run",
               description="a whole table as a job graph (-c sweep file, --launcher, --dry-run)")
MODES.register("relabel", f"{_HERE}.relabel:run",
               description="EMO-SUPERB's LLM relabelling of typed descriptions (-c relabel config)")
MODES.register("relabel_gain", f"{_HERE}.relabel:gain",
               description="macro-F1 without vs with relabelled labels, relative gain (-p)")
MODES.register("score_generation", f"{_HERE}.score_generation:run",
               description="ExVo-Generate: FID / HEEP / S_GEN of generated bursts (--generated)")
MODES.register("serab_table", f"{_HERE}.serab_table:run",
               description="SERAB's table: per-corpus probe accuracy with UM / WM / GM (-p)")
MODES.register("cross", f"{_HERE}.cross:run",
               description="cross-corpus: a trained emotion/probe run (-e) on another corpus "
                           "through a class mapping (-c)")
MODES.register("compare", f"{_HERE}.compare:run",
               description="paired bootstrap test of two experiments on the same test set: "
                           "-m compare A B (docs/statistics.md)")

__all__ = ["MODES"]
