"""Cross-corpus evaluation: a model trained on corpus A scored on corpus B through a declared
class mapping (EmoBox's second track).

A cross-corpus file (configs/cross/*.yaml) names the target corpus's label folder and the
mapping ``A's class -> B's class`` (``null``: dropped). The model's scores over A's classes are
restricted to the kept classes; the prediction is the argmax among them, mapped to B's class.
Target rows whose class no A class maps to are dropped. Every dropped class and row is counted
in scores.json (``cross_corpus``); a mapping to a class B does not have, or from a class A does
not have, is an error naming the file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from emobench.core.config import ConfigError, path_field
from emobench.core.registry import Registry

CROSS = Registry("cross-corpus task")
CROSS.register("emotion", "emobench.downstream.emotion.cross:evaluate")
CROSS.register("probe", "emobench.downstream.probe.cross:evaluate")


@dataclass
class TargetConfig:
    label_dir: str | None = path_field(None)  # corpus B in the emotion label format (required)
    audio_root: str | None = path_field(None)  # B's FileName is relative to it (required)
    fold: int = 1
    # which of B's rows are scored: one split, or every row (the model never saw B)
    split: Literal["train", "dev", "test", "all"] = "test"
    corpus: str | None = None  # default: the label folder's parent name
    condition: str | None = None  # default: the label folder's name


@dataclass
class CrossConfig:
    source: str | None = None  # A's corpus name, checked against the trained run's when given
    target: TargetConfig = field(default_factory=TargetConfig)
    mapping: dict[str, Any] = field(default_factory=dict)  # A's class -> B's class or null


@dataclass
class Mapping:
    """A checked mapping over concrete class lists."""

    kept: list[int]  # A's class indices that map somewhere
    to_target: list[int]  # B's class index of each kept A class
    dropped_source: list[str]  # A's classes mapped to null or absent from the mapping
    dropped_target: list[str]  # B's classes no A class maps to
    sha256: str


def mapping_sha256(mapping: dict[str, Any]) -> str:
    """The sha256 of the mapping's canonical JSON (sorted keys): its identity in scores.json.

    >>> mapping_sha256({"b": None, "a": "x"}) == mapping_sha256({"a": "x", "b": None})
    True
    """
    return hashlib.sha256(json.dumps(mapping, sort_keys=True).encode()).hexdigest()


def check_mapping(mapping: dict[str, Any], source: list[str], target: list[str],
                  where: str | Path) -> Mapping:
    """The mapping over A's (``source``) and B's (``target``) classes.

    >>> m = check_mapping({"angry": "anger", "bored": None}, ["angry", "bored", "sad"],
    ...                   ["anger", "calm"], "m.yaml")
    >>> m.kept, m.to_target, m.dropped_source, m.dropped_target
    ([0], [0], ['bored', 'sad'], ['calm'])
    >>> check_mapping({"angry": "rage"}, ["angry"], ["anger"], "m.yaml")
    Traceback (most recent call last):
    ...
    emobench.core.config.ConfigError: m.yaml: mapping angry -> 'rage': the target corpus has no
    class 'rage' (its classes: anger)
    """
    if not mapping:
        raise ConfigError(f"{where}: the mapping is empty (A's class: B's class or null)")
    problems = []
    for a, b in mapping.items():
        if a not in source:
            problems.append(f"mapping {a} -> {b!r}: the trained model has no class {a!r} "
                            f"(its classes: {', '.join(source)})")
        elif b is not None and (not isinstance(b, str) or b not in target):
            problems.append(f"mapping {a} -> {b!r}: the target corpus has no class {b!r} "
                            f"(its classes: {', '.join(target)})")
    if problems:
        raise ConfigError(f"{where}: " + "; ".join(problems))
    kept = [i for i, a in enumerate(source) if mapping.get(a) is not None]
    if not kept:
        raise ConfigError(f"{where}: every class maps to null: nothing to evaluate")
    to_target = [target.index(mapping[source[i]]) for i in kept]
    return Mapping(kept, to_target, [a for a in source if mapping.get(a) is None],
                   [b for j, b in enumerate(target) if j not in to_target],
                   mapping_sha256(mapping))


def apply(scores: np.ndarray, truth: np.ndarray, mapping: Mapping
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(kept rows, their B truth, their B prediction)`` from A-class ``scores`` ``(N, C_A)``
    and B class indices ``truth``: rows of a B class nothing maps to are dropped.

    >>> m = Mapping([0, 2], [1, 0], ["b"], ["z"], "")
    >>> rows, t, p = apply(np.array([[0.1, 0.8, 0.1], [0.6, 0.1, 0.3], [0.2, 0.2, 0.6]]),
    ...                    np.array([0, 1, 2]), m)
    >>> rows.tolist(), t.tolist(), p.tolist()
    ([0, 1], [0, 1], [1, 1])
    """
    rows = np.flatnonzero(np.isin(truth, mapping.to_target))
    best = np.asarray(scores)[rows][:, mapping.kept].argmax(axis=1)
    return rows, np.asarray(truth)[rows], np.asarray(mapping.to_target)[best]


def record(cfg: CrossConfig, file: str | Path, mapping: Mapping, source: str, target: str,
           truth: np.ndarray, rows: np.ndarray, target_classes: list[str]) -> dict[str, Any]:
    """The ``cross_corpus`` block of scores.json."""
    dropped = np.ones(len(truth), dtype=bool)
    dropped[rows] = False
    per_class = {target_classes[j]: int(np.sum(truth[dropped] == j))
                 for j in sorted(set(truth[dropped].tolist()))}
    return {"source": source, "target": target, "split": cfg.target.split,
            "mapping_file": str(file), "mapping_sha256": mapping.sha256,
            "mapping": dict(cfg.mapping), "dropped_source_classes": mapping.dropped_source,
            "dropped_target_classes": mapping.dropped_target,
            "target_rows": int(len(truth)), "evaluated_rows": int(len(rows)),
            "dropped_rows": int(dropped.sum()), "dropped_rows_per_class": per_class}


def target_table(cfg: CrossConfig, where: str | Path):
    """B's rows to score (one split or all), read and validated like any label folder."""
    from emobench.corpora.emotion_labels import read_labels

    for key in ("label_dir", "audio_root"):
        if getattr(cfg.target, key) is None:
            raise ConfigError(f"{where}: target.{key} is not set (in the file or -o "
                              f"target.{key}=PATH)")
    table = read_labels(cfg.target.label_dir, cfg.target.fold, cfg.target.audio_root,
                        allow_speaker_overlap=True)
    return table if cfg.target.split == "all" else table.subset(cfg.target.split)


def target_names(cfg: CrossConfig) -> tuple[str, str]:
    label_dir = Path(cfg.target.label_dir).resolve()
    return (cfg.target.corpus or label_dir.parent.name, cfg.target.condition or label_dir.name)


def prepare_cell(cfg: CrossConfig, file: str | Path, source_classes: list[str], source: str,
                 table) -> tuple[Mapping, Any, dict[str, Any]]:
    """The checked mapping, B's rows it reaches (only these are featurised) and the
    ``cross_corpus`` block that counts what was dropped."""
    import dataclasses

    if cfg.source is not None and cfg.source != source:
        raise ConfigError(f"{file}: source: {cfg.source}, but the trained run is on {source}")
    mapping = check_mapping(cfg.mapping, source_classes, list(table.classes), file)
    truth = table.labels.argmax(axis=1)
    rows = np.flatnonzero(np.isin(truth, mapping.to_target))
    if not len(rows):
        raise ConfigError(f"{file}: no {cfg.target.split} row of {table.source} has a class "
                          "that the mapping reaches")
    kept = dataclasses.replace(
        table, file_names=[table.file_names[i] for i in rows],
        paths=[table.paths[i] for i in rows], speakers=[table.speakers[i] for i in rows],
        splits=table.splits[rows], labels=table.labels[rows],
        num_samples=table.num_samples[rows], sample_rates=table.sample_rates[rows])
    block = record(cfg, file, mapping, source, target_names(cfg)[0], truth, rows,
                   list(table.classes))
    return mapping, kept, block


def score_models(mapping: Mapping, block: dict[str, Any], kept,
                 model_scores: dict[str, np.ndarray]) -> dict[str, Any]:
    """Every model's metrics on B's kept rows; the first model of ``model_scores`` is the run's
    main result."""
    from emobench.downstream.probe.metrics import all_metrics

    truth = kept.labels.argmax(axis=1)
    results = {}
    for name, scores in model_scores.items():
        rows, kept_truth, predicted = apply(scores, truth, mapping)
        results[name] = {"metrics": all_metrics(kept_truth, predicted),
                         "predicted": predicted, "rows": rows, "truth": kept_truth}
    return {"models": results, "cross_corpus": block, "mapping": mapping}


def write_cell(ctx, task: str, cfg: CrossConfig, scored: dict[str, Any], table,
               upstream: dict[str, Any], selection: dict[str, Any],
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The cross-corpus cell's ``scores.json`` and ``predictions.csv`` in ``ctx.expdir``."""
    import pandas as pd

    from emobench.core import io, scores
    from emobench.core.experiment import LOG, provenance
    from emobench.downstream.probe.metrics import all_metrics

    models = scored["models"]
    main_name = next(iter(models))
    main = models[main_name]
    split = cfg.target.split
    majority = int(np.bincount(main["truth"]).argmax())
    corpus, condition = target_names(cfg)
    block = scored["cross_corpus"]
    for name, one in models.items():
        LOG.info("%s -> %s %s (%s): accuracy %.4f uar %.4f macro_f1 %.4f on %d of %d rows",
                 block["source"], corpus, split, name, one["metrics"]["accuracy"],
                 one["metrics"]["uar"], one["metrics"]["macro_f1"], len(one["rows"]),
                 block["target_rows"])
    LOG.info("dropped: source classes %s, target classes %s (%d rows)",
             block["dropped_source_classes"], block["dropped_target_classes"],
             block["dropped_rows"])
    result = {
        "schema_version": 1, "task": task, "corpus": corpus, "condition": condition,
        "fold": cfg.target.fold, "upstream": upstream, "seed": ctx.seed,
        "toolkit": provenance(), "checkpoint": str(ctx.checkpoint),
        "main_metric": {"name": "accuracy", "split": split,
                        "value": main["metrics"]["accuracy"], "higher_is_better": True},
        "metrics": {split: main["metrics"]},
        "baselines": {split: all_metrics(main["truth"], np.full(len(main["truth"]), majority))},
        "selection": selection, "cross_corpus": block,
        "counts": {"target_rows": block["target_rows"], "evaluated": block["evaluated_rows"],
                   "dropped": block["dropped_rows"]},
        "warnings": ctx.warnings,
        "notes": {"baselines": "the most frequent target class among the evaluated rows (the "
                               "best constant on them)",
                  "prediction": "argmax of the model's scores over the kept source classes, "
                                "mapped to the target class"},
        **(extra or {}),
    }
    if len(models) > 1:
        result["classifiers"] = {name: {split: one["metrics"]} for name, one in models.items()}
    classes = list(table.classes)
    frame = pd.DataFrame({"FileName": [table.file_names[i] for i in main["rows"]],
                          "truth": [classes[j] for j in main["truth"]],
                          **{name: [classes[j] for j in one["predicted"]]
                             for name, one in models.items()}})
    io.write_text(ctx.expdir / "predictions.csv", frame.to_csv(index=False))
    scores.write(ctx.expdir / "scores.json", result)
    LOG.info("cross-corpus cell -> %s", ctx.expdir / "scores.json")
    return result
