#!/usr/bin/env python3
"""Does ``-m score_generation``'s FID tell the right emotion from a wrong one? A check on real
vocal bursts (EmoGator), with real clips standing in for a generator's output.

The emogator recipe splits the 50 contributors by speaker (Train 25 / Val 10 / Test 15 with
``test_speakers=0.3``). Reference: the Train clips of each category (its 30 one-hot columns are
the emotion target of configs/multitask/emogator.yaml). "Generated": the Test speakers' real
clips, linked into the folder of their own category (``correct/``) and, once more, into the
folder of another category (``shuffled/``: the categories permuted by a fixed-seed derangement,
so every folder holds the right number of real bursts of one wrong category). A working FID is
lower for ``correct/<c>`` than for ``shuffled/<c>``.

    python benchmarks/emogator_generation_check.py --source /corpora/emogator --work /tmp/eg \\
        -u fbank_no_cmvn [-k CHECKPOINT] [--categories 10]

prints one markdown row per category (FID correct, FID shuffled, the train-vs-validation
diagonal) and a JSON summary line (categories where correct < shuffled, the means). With
``--experiment FOLDER`` the features are those of a multitask model trained on the same labels
(``-m train -d multitask -c configs/multitask/emogator.yaml -o data.data_info=<work>/labels/
data_info_subset.csv,,...``): the held-out speakers' clips are its Test rows, never trained on.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from emobench.core import json_schema
from emobench.corpora.emogator import prepare
from emobench.orchestration.cli import main as run

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "multitask" / "emogator.yaml"


def derangement(n: int, seed: int) -> list[int]:
    """A permutation of range(n) without a fixed point (the first such draw of the seed)."""
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(n)
        if not (order == np.arange(n)).any():
            return order.tolist()


def build(source: Path, work: Path, categories: int | None, seed: int
          ) -> tuple[Path, Path, Path, dict[str, str]]:
    """data_info.csv (first ``categories`` categories only), correct/ and shuffled/ folders."""
    (data_info,) = prepare(source, work / "labels", seed=0, test_speakers=0.3)
    frame = pd.read_csv(data_info, dtype={"File_ID": str})
    names = list(frame.columns[3:])
    kept = names[:categories] if categories else names
    frame = frame[frame[kept].sum(axis=1) > 0]
    data_info = work / "labels" / "data_info_subset.csv"
    frame.to_csv(data_info, index=False)
    test = frame[frame["Split"] == "Test"]
    category = [kept[int(np.argmax(v))] for v in test[kept].to_numpy(float)]
    order = derangement(len(kept), seed)
    wrong = {c: kept[order[i]] for i, c in enumerate(kept)}  # folder c holds clips of wrong[c]
    folder_of = {"correct": {c: c for c in kept}, "shuffled": {v: k for k, v in wrong.items()}}
    for kind, mapping in folder_of.items():
        for token, cat in zip(test["File_ID"].str.strip("[]"), category):
            target = work / kind / mapping[cat] / f"{token}.mp3"
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.is_symlink():
                os.symlink(source / "mp3" / f"{token}.mp3", target)
    return data_info, work / "correct", work / "shuffled", wrong


def check(source: Path, work: Path, upstream: str, checkpoint: str | None = None,
          categories: int | None = None, seed: int = 0, cache: str | None = None,
          experiment: str | None = None) -> dict[str, object]:
    data_info, correct, shuffled, wrong = build(source, work, categories, seed)
    override = (f"data.data_info={data_info},,data.audio_root={source / 'mp3'},,"
                f"data.cache_dir={cache or work / 'cache'}")
    results = {}
    for name, folder in (("correct", correct), ("shuffled", shuffled)):
        args = ["-m", "score_generation", "--generated", str(folder), "-p",
                str(work / f"scores_{name}"), "--device", "cpu"]
        if experiment:  # a classifier trained on <work>/labels/data_info_subset.csv
            args += ["-e", experiment]
        else:
            args += ["-u", upstream, "-d", "multitask", "-c", str(CONFIG), "-o", override]
        if checkpoint:
            args += ["-k", checkpoint]
        if run(args) != 0:
            raise SystemExit(f"score_generation failed for {folder}")
        results[name] = json_schema.read(work / f"scores_{name}" / "generation_scores.json",
                                         "generation_scores")
    fid_c, fid_s = results["correct"]["fid"], results["shuffled"]["fid"]
    diagonal = results["correct"]["train_val_fid"]["diagonal"]
    rows = [{"category": c, "clips": results["correct"]["generated"]["clips"][c],
             "fid_correct": fid_c[c], "fid_shuffled": fid_s[c], "shuffled_holds": wrong[c],
             "train_val_diagonal": diagonal.get(c)} for c in fid_c]
    return {"upstream": results["correct"]["upstream"]["name"],
            "classifier": results["correct"]["classifier"]["kind"],
            "dim": results["correct"]["classifier"]["dim"],
            "categories": len(rows), "rows": rows,
            "correct_lower": sum(r["fid_correct"] < r["fid_shuffled"] for r in rows),
            "mean_fid_correct": float(np.mean([r["fid_correct"] for r in rows])),
            "mean_fid_shuffled": float(np.mean([r["fid_shuffled"] for r in rows]))}


def main(argv: list[str] | None = None) -> dict[str, object]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--source", required=True, type=Path, help="EmoGator folder (with mp3/)")
    p.add_argument("--work", required=True, type=Path, help="folder for labels, links, scores")
    p.add_argument("-u", "--upstream", default="fbank_no_cmvn")
    p.add_argument("-k", "--upstream_ckpt")
    p.add_argument("--categories", type=int, help="only the first N categories (default 30)")
    p.add_argument("--seed", type=int, default=0, help="seed of the category derangement")
    p.add_argument("--cache", help="feature cache folder (default <work>/cache)")
    p.add_argument("--experiment", help="score in the feature space of this trained multitask "
                                        "experiment (trained on <work>/labels/"
                                        "data_info_subset.csv) instead of -u's")
    args = p.parse_args(argv)
    summary = check(args.source.absolute(), args.work.absolute(), args.upstream,
                    args.upstream_ckpt, args.categories, args.seed, args.cache,
                    args.experiment)
    print("| category | clips | FID correct | FID shuffled (clips of) | train-vs-val diagonal |")
    print("|---|---|---|---|---|")
    for r in summary["rows"]:
        print(f"| {r['category']} | {r['clips']} | {r['fid_correct']:.3f} | "
              f"{r['fid_shuffled']:.3f} ({r['shuffled_holds']}) | "
              f"{r['train_val_diagonal']:.3f} |")
    print(json.dumps({k: v for k, v in summary.items() if k != "rows"}))
    return summary


if __name__ == "__main__":
    main()
