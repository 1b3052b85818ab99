#!/usr/bin/env python3
"""Upstream forwards for a whole 5-fold condition against the limit (one per utterance).

For the demo corpus (400 utterances, 5 folds), ``-m extract`` of every fold into one fresh cache
folder per scenario; the forwards are the entries the five extractions wrote (every entry is one
upstream forward of one utterance), the limit is the condition's distinct utterances.

- tiny WavLM (layer-norms every waveform: ``upstream.waveform_invariance``), old: the fold-keyed
  cache as before this change (the registry entry removed, in this process), new: the shared key.
- fbank_no_cmvn (does not normalise its waveform), old: EMO-SUPERB's fold statistics
  (``data.standardize_scope=fold``), new: the opt-in ``data.standardize_scope=condition``.

Then (unless ``--no-metrics``) the metric effect of the opt-in variant: fbank_no_cmvn trained on
each of the 5 folds under both scopes (the demo config's epochs), test macro-F1 per fold.

    python benchmarks/fold_sharing.py          # prints rows, then one JSON line
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path

from emobench.orchestration.cli import main as run
from emobench.upstream import make_tiny
from emobench.upstream.waveform_invariance import NORMALISING

FOLDS = range(1, 6)
UTTERANCES = 400  # the demo condition's distinct utterances


def entries(cache: Path) -> int:
    return len(list(cache.rglob("items/*/*.pt")))


def forwards(name: str, upstream: str, checkpoint: str | None, extra: str = "") -> list[int]:
    """Entries written by each fold's extraction into the scenario's own cache."""
    cache = Path("caches") / name
    written = []
    for fold in FOLDS:
        before = entries(cache)
        args = ["-m", "extract", "-u", upstream, "-d", "emotion", "--demo", "--device", "cpu",
                "-o", f"data.fold={fold},,data.cache_dir={cache}{extra}"]
        if checkpoint:
            args[4:4] = ["-k", checkpoint]
        assert run(args) == 0, (name, fold)
        written.append(entries(cache) - before)
    return written


def test_f1(scope: str, fold: int) -> float:
    name = f"fbank_{scope}_fold{fold}"
    assert run(["-m", "train", "-u", "fbank_no_cmvn", "-d", "emotion", "--demo", "-n", name,
                "--device", "cpu", "-o", f"data.fold={fold},,data.cache_dir=caches/train,,"
                f"data.standardize_scope={scope}"]) == 0
    scores = json.loads((Path("results/downstream") / name / "scores.json").read_text())
    return scores["metrics"]["test"]["macro_f1"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", help="default: a temporary folder")
    parser.add_argument("--no-metrics", action="store_true")
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="fold_sharing_"))
    workdir.mkdir(parents=True, exist_ok=True)
    os.chdir(workdir)
    wavlm = make_tiny("wavlm_large", workdir / "wavlm.ckpt").path
    rows = {}
    reader = NORMALISING.pop("wavlm_large")  # old: the fold-keyed cache
    try:
        rows["wavlm (tiny), old: fold-keyed"] = forwards("wavlm_old", "wavlm_large", wavlm)
    finally:
        NORMALISING["wavlm_large"] = reader
    rows["wavlm (tiny), new: shared key"] = forwards("wavlm_new", "wavlm_large", wavlm)
    rows["fbank_no_cmvn, old: fold statistics"] = forwards(
        "fbank_old", "fbank_no_cmvn", None, ",,data.standardize_scope=fold")
    rows["fbank_no_cmvn, new: standardize_scope=condition"] = forwards(
        "fbank_new", "fbank_no_cmvn", None, ",,data.standardize_scope=condition")
    result: dict = {"benchmark": "fold_sharing", "corpus": "demo (400 utterances, 5 folds)",
                    "limit": UTTERANCES, "rows": {}}
    for name, written in rows.items():
        ratio = sum(written) / UTTERANCES
        result["rows"][name] = {"forwards_per_fold": written, "forwards": sum(written),
                                "ratio_to_limit": round(ratio, 2)}
        print(f"{name}: {sum(written)} forwards {written} = {ratio:.2f}x the limit", flush=True)
    if not args.no_metrics:
        f1 = {scope: [test_f1(scope, fold) for fold in FOLDS] for scope in ("fold", "condition")}
        result["test_macro_f1_fbank_no_cmvn"] = {
            scope: {"folds": [round(v, 4) for v in values],
                    "mean": round(statistics.mean(values), 4)} for scope, values in f1.items()}
        result["max_fold_difference"] = round(max(abs(a - b) for a, b in
                                                  zip(f1["fold"], f1["condition"])), 4)
        print(json.dumps(result["test_macro_f1_fbank_no_cmvn"]), flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
