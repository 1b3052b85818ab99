"""The readable tables of an ExVo-Generate scoring result (``generation_scores.json``) in the log."""

from __future__ import annotations

from typing import Any, Mapping

from emobench.core.experiment import LOG


def _cell(value: float | int | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.{digits}f}"


def per_emotion_table(result: Mapping[str, Any]) -> str:
    """One line per emotion: clips generated and in the reference, FID against the training and
    the validation clips, the train-vs-validation lower bound, HEEP and S_GEN."""
    ref, diagonal = result["reference"], result["train_val_fid"]["diagonal"]
    header = ["emotion", "generated", "train", "val", "FID", "FID_val", "lower_bound", "HEEP",
              "S_GEN"]
    lines = []
    for e in result["emotions"]:
        gen = result["generated"]["clips"].get(e)
        lines.append([e, _cell(gen), _cell(ref["train_clips"][e]), _cell(ref["val_clips"][e]),
                      _cell(result["fid"].get(e)), _cell(result["fid_val"].get(e)),
                      _cell(diagonal.get(e)), _cell(result["heep"].get(e)),
                      _cell(result["s_gen"].get(e))])
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    return "\n".join("  ".join(c.rjust(w) if i else c.ljust(w)
                               for i, (c, w) in enumerate(zip(row, widths)))
                     for row in [header, *lines])


def matrix_table(result: Mapping[str, Any]) -> str:
    """The train (rows) vs validation (columns) FID matrix."""
    names = result["train_val_fid"]["emotions"]
    matrix = result["train_val_fid"]["matrix"]
    width = max([len(n) for n in names] + [8])
    head = "train \\ val".ljust(width) + "".join(n[:8].rjust(9) for n in names)
    return "\n".join([head] + [r.ljust(width) + "".join(f"{matrix[r][c]:9.3f}" for c in names)
                               for r in names])


def log_table(result: Mapping[str, Any]) -> None:
    summary = result["fid_summary"]
    LOG.info("ExVo-Generate scores (%s features, %d dimensions):\n%s",
             result["classifier"]["kind"], result["classifier"]["dim"],
             per_emotion_table(result))
    LOG.info("FID over the generated emotions: mean %.3f, median %.3f, std %.3f, min %.3f (%s), "
             "max %.3f (%s); all generated clips vs all training clips: %.3f", summary["mean"],
             summary["median"], summary["std"], summary["min"], summary["argmin"],
             summary["max"], summary["argmax"], result["fid_all"])
    if result["train_val_fid"]["emotions"]:
        LOG.info("train vs validation FID (the diagonal is the lower bound):\n%s",
                 matrix_table(result))
    if result["s_gen_mean"] is not None:
        LOG.info("S_GEN over all %d emotions (0 where not scored): %.4f",
                 len(result["emotions"]), result["s_gen_mean"])
