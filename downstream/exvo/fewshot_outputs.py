"""What a few-shot experiment writes besides scores.json: predictions.csv (unadapted and adapted
predictions of every query), the ExVo-Few submission, per_emotion.md and the CCC figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from emobench.core import io
from emobench.core.experiment import LOG
from emobench.corpora.exvo_labels import EMOTIONS, ExVoTable
from emobench.downstream.exvo.fewshot_config import FewShotConfig
from emobench.downstream.exvo.outputs import ccc_bars


def write_outputs(outdir: Path, cfg: FewShotConfig, table: ExVoTable, targets: list[str],
             adapted_pred: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
             per_class: dict[str, dict[str, dict[str, float]]]) -> None:
    ids = np.asarray(table.file_ids, dtype=object)
    frames = []
    for split, (rows, unadapted, adapted) in adapted_pred.items():
        frame = pd.DataFrame({"split": split, "File_ID": ids[rows],
                              "Subject_ID": np.asarray(table.speakers, dtype=object)[rows]})
        for t, name in enumerate(targets):
            frame[f"{name}_unadapted"] = unadapted[:, t]
            frame[f"{name}_adapted"] = adapted[:, t]
            frame[name] = table.emotions[rows, t]
        frames.append(frame)
        if split == "test":
            submission = pd.DataFrame({"File_ID": ids[rows]})
            for t, name in enumerate(targets):
                submission[name] = adapted[:, t]
            io.write_text(outdir / f"ExVo-Few_{cfg.output.team}_{cfg.output.submission}.csv",
                          submission.to_csv(index=False, float_format="%.6f",
                                            lineterminator="\n"))
    io.write_text(outdir / "predictions.csv", pd.concat(frames).to_csv(
        index=False, float_format="%.6f", lineterminator="\n"))
    split = "test" if "test" in adapted_pred else "val"
    key = "ccc_adapted_" + cfg.adapt.method if cfg.adapt.method != "none" else "ccc_unadapted"
    if len(targets) == len(EMOTIONS) and tuple(targets) == EMOTIONS:
        ccc_bars({"unadapted": list(per_class["ccc_unadapted"][split].values()),
                  f"adapted ({cfg.adapt.method})": list(per_class[key][split].values())},
                 outdir / "ccc_per_emotion.png", f"few-shot CCC per emotion ({split})")
    table_md = per_target_table(per_class, split)
    io.write_text(outdir / "per_emotion.md", table_md)
    LOG.info("per-target CCC on %s queries:\n%s", split, table_md)


def per_target_table(per_class: dict[str, dict[str, dict[str, float]]], split: str) -> str:
    """Markdown like Table 4 of the ExVo paper: one row per target, one column per method."""
    methods = list(per_class)
    names = list(per_class[methods[0]][split])
    lines = ["| target | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(f"{per_class[m][split][name]:.3f}"
                                                for m in methods) + " |")
    lines.append("| **mean** | " + " | ".join(
        f"**{np.mean(list(per_class[m][split].values())):.3f}**" for m in methods) + " |")
    return "\n".join(lines) + "\n"
