"""The few-shot protocol: each speaker's queries predicted by a model adapted from that
speaker's support clips alone, and the CCC scores of those predictions."""

from __future__ import annotations

import numpy as np
import torch

from emobench.corpora import exvo_support as support_sets
from emobench.corpora.exvo_labels import ExVoTable
from emobench.downstream.exvo.adapt import METHODS, FewShotModel
from emobench.downstream.exvo.metrics import ccc, per_emotion_ccc


def fewshot_predict(model: FewShotModel, features: torch.Tensor, table: ExVoTable,
                    sets: support_sets.SupportSets, speakers: list[str], method: str, cfg,
                    device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """(query row indices, predictions) of every speaker, each adapted from ``model`` alone."""
    index = {fid: i for i, fid in enumerate(table.file_ids)}
    targets = torch.from_numpy(table.emotions).float()
    run = METHODS.get(method)
    rows, preds = [], []
    for speaker in speakers:
        support = [index[f] for f in sets.support[speaker]]
        query = support_sets.queries(table, sets, speaker)
        out = run(model, features[support].to(device), targets[support].to(device),
                  features[query].to(device), cfg)
        rows.append(query)
        preds.append(out.double().cpu().numpy())
    return np.concatenate(rows), np.concatenate(preds)


def speakers_in(table: ExVoTable, sets: support_sets.SupportSets, split: str) -> list[str]:
    in_split = {s for s, sp in zip(table.speakers, table.splits) if sp == split}
    return sorted(s for s in sets.support if s in in_split)


def mean_ccc(table: ExVoTable, rows: np.ndarray, pred: np.ndarray) -> float:
    return float(per_emotion_ccc(table.emotions[rows], pred).mean())


def quantiles(per_speaker: dict[str, float]) -> dict[str, float]:
    """min, quartiles and max of the per-speaker scores.

    >>> quantiles({"a": 0.1, "b": 0.3, "c": 0.2})["median"]
    0.2
    """
    values = np.array(list(per_speaker.values()))
    q = np.percentile(values, [0, 25, 50, 75, 100])
    return dict(zip(("min", "q25", "median", "q75", "max"), (float(round(v, 12)) for v in q)))


def per_speaker_ccc(table: ExVoTable, rows: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    speakers = np.asarray(table.speakers, dtype=object)[rows]
    out = {}
    for speaker in sorted(set(speakers)):
        mine = speakers == speaker
        truth = table.emotions[rows[mine]]
        out[speaker] = float(np.mean([ccc(truth[:, e], pred[mine, e])
                                      for e in range(truth.shape[1])]))
    return out
