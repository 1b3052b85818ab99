"""Hybrid (late) fusion of finished multitask experiments (``-m fuse``, docs/fusion.md).

Every target's predictions come from one chosen experiment: named per target, or chosen
automatically per target by that target's validation score (:func:`criteria`). The combined
predictions are then scored by the task's own code (results.py: every metric, the baselines,
the selection score such as ExVo's S_MTL) and written exactly like a run's (the output format's
files, predictions.npz, scores.json), with the sources recorded.

Why per-target choice is at least as good on validation as every source: a target's metrics
depend only on that target's predictions and the shared truth, so in the hybrid each target's
validation metric equals that of its source. Choosing the source with the best value of the one
metric a target contributes to the selection score makes every argument of the selection score
at least as good as in any single source; the selection combiners are monotone in each argument
(``mean``; ``exvo_s_mtl`` = 3 / (1/ccc + mae + 1/uar) rises with ccc and uar and falls with mae,
0 when ccc or uar <= 0), so the hybrid's validation selection score is at least every source's.
A target with several selection metrics is chosen by their mean, which keeps the guarantee for
``mean`` only (a warning says so for another combiner); on test nothing is guaranteed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emobench.core import scores
from emobench.core.config import load_yaml
from emobench.core.errors import UserError
from emobench.core.experiment import LOG
from emobench.downstream.multitask import results, scoring
from emobench.downstream.multitask.checks import metric_key, metrics_of, selection_items
from emobench.downstream.multitask.config import MultitaskConfig
from emobench.downstream.multitask.metrics import METRICS
from emobench.downstream.multitask.task import read

# config keys whose values must agree between fused experiments (the rows, targets, scoring)
SAME_DATA = ("data_info", "audio_root", "audio_ext", "id_format", "id_column", "split_column",
             "speaker_column", "split_names", "corpus", "condition", "allow_speaker_overlap")
SAME_CONFIG = ("targets", "selection")


@dataclass
class Experiment:
    """A finished multitask experiment folder, read back."""

    folder: Path
    run: dict[str, Any]  # config.yaml's run record
    config: dict[str, Any]  # config.yaml's resolved config
    scores: dict[str, Any]
    predictions: results.Predictions

    @property
    def task(self) -> str:
        return str(self.run.get("task"))


def load(folder: Path) -> Experiment:
    """config.yaml, scores.json and predictions.npz of ``folder`` (each missing one named)."""
    missing = [n for n in ("config.yaml", "scores.json", results.PREDICTIONS)
               if not (folder / n).is_file()]
    if not folder.is_dir() or missing:
        what = "is not a folder" if not folder.is_dir() else f"has no {', '.join(missing)}"
        raise UserError(f"{folder} {what}: -m fuse needs finished multitask experiments")
    saved = load_yaml(folder / "config.yaml")
    if not isinstance(saved.get("run"), dict) or not isinstance(saved.get("config"), dict):
        raise UserError(f"{folder / 'config.yaml'} has no run record and config")
    return Experiment(folder, saved["run"], saved["config"], scores.read(folder / "scores.json"),
                      results.read_predictions(folder / results.PREDICTIONS))


def differences(a: Experiment, b: Experiment) -> list[str]:
    """What keeps ``a`` and ``b`` from being fused (empty: nothing)."""
    out = [f"task ({a.task} vs {b.task})"] if a.task != b.task else []
    out += [f"{key} ({a.scores[key]} vs {b.scores[key]})" for key in ("corpus", "condition")
            if a.scores[key] != b.scores[key]]
    data_a, data_b = a.config.get("data", {}), b.config.get("data", {})
    out += [f"data.{key}" for key in SAME_DATA if data_a.get(key) != data_b.get(key)]
    out += [key for key in SAME_CONFIG if a.config.get(key) != b.config.get(key)]
    pa, pb = a.predictions, b.predictions
    if pa.file_ids != pb.file_ids or pa.splits != pb.splits:
        out.append("rows (ids or splits of predictions.npz)")
    if {k: v.shape for k, v in pa.values.items()} != {k: v.shape for k, v in pb.values.items()}:
        out.append("predicted targets or their shapes")
    if a.scores.get("targets") != b.scores.get("targets"):
        out.append("targets (kinds or labels in scores.json)")
    return out


def check_same(experiments: list[Experiment]) -> None:
    """Every experiment has the rows, splits, targets, scoring and corpus of the first."""
    first = experiments[0]
    for other in experiments[1:]:
        found = differences(first, other)
        if found:
            raise UserError(f"-m fuse: {first.folder} and {other.folder} differ in "
                            f"{'; '.join(found)}: fused experiments need the same rows, splits, "
                            "targets, selection score and corpus")


def criteria(cfg: MultitaskConfig) -> dict[str, tuple[list[str], bool]]:
    """Per target: the validation metric keys it is chosen by (their mean when several) and
    whether higher is better. A target's selection-score metric(s); its first metric when it
    has none.

    >>> from emobench.downstream.exvo.config import ExVoConfig
    >>> criteria(ExVoConfig())
    {'emotion': (['ccc'], True), 'age': (['mae'], False), 'country': (['uar'], True)}
    """
    items = selection_items(cfg)
    out = {}
    for t in cfg.targets:
        mine = [m for tc, m in items if tc.name == t.name] or metrics_of(t)[:1]
        higher = (METRICS.entry(mine[0]).meta.get("higher_is_better", True) if len(mine) == 1
                  else cfg.selection.higher_is_better)
        out[t.name] = ([metric_key(t, m) for m in mine], higher)
    return out


@dataclass
class Choice:
    experiment: Experiment
    keys: list[str]  # the validation metrics the target is judged by
    value: float  # their (mean) value in the experiment


def _value(e: Experiment, keys: list[str], target: str) -> float:
    val = e.scores["metrics"].get("val", {})
    if not all(k in val for k in keys):
        raise UserError(f"{e.folder / 'scores.json'} has no validation {keys} for target "
                        f"{target!r}: name its source explicitly (--from {target}=FOLDER)")
    return float(np.mean([val[k] for k in keys]))


def choose(cfg: MultitaskConfig, experiments: list[Experiment],
           mapping: dict[str, Path] | None, warnings: list[str]) -> dict[str, Choice]:
    """Each target's source: ``mapping`` (target -> folder), or (None) the experiment with the
    best validation value of the target's criterion (ties: the first listed)."""
    judged = criteria(cfg)
    if mapping is not None:
        unknown = sorted(set(mapping) - set(judged))
        missing = [t for t in judged if t not in mapping]
        if unknown or missing:
            raise UserError(f"--from: the targets are {list(judged)}; "
                            + (f"unknown {unknown}" if unknown else f"no source for {missing}"))
        by_folder = {e.folder: e for e in experiments}
        return {t: Choice(by_folder[mapping[t]], keys, _value(by_folder[mapping[t]], keys, t))
                for t, (keys, _) in judged.items()}
    if cfg.selection.combine != "mean" and any(len(k) > 1 for k, _ in judged.values()):
        warnings.append(f"a target with several selection metrics is chosen by their mean; with "
                        f"selection.combine={cfg.selection.combine} the hybrid's validation "
                        "selection score may then be below a source's")
    chosen = {}
    for t, (keys, higher) in judged.items():
        values = [_value(e, keys, t) for e in experiments]
        best = int(np.argmax(values) if higher else np.argmin(values))
        chosen[t] = Choice(experiments[best], keys, values[best])
    return chosen


def _identity(fused: Plan) -> dict[str, Any]:
    """scores.json's upstream(s) and seed: a single source's own, or the hybrid's (the seed of
    the first listed source)."""
    used = {id(c.experiment) for c in fused.chosen.values()}
    sources = [e for e in fused.experiments if id(e) in used]
    if len(sources) == 1:
        s = sources[0].scores
        return {"upstream": s["upstream"], "upstreams": s.get("upstreams"), "seed": s["seed"]}
    names = list(dict.fromkeys(e.scores["upstream"]["name"] for e in sources))
    first = sources[0].scores["upstream"]
    return {"upstream": {"name": "hybrid:" + "|".join(names), "checkpoint": None, "layer": None,
                         "normalize": first["normalize"], "checkpoint_sha256": None,
                         "source": f"hybrid of {len(sources)} experiments (see sources)"},
            "upstreams": [e.scores["upstream"] for e in sources],
            "seed": sources[0].scores["seed"]}


@dataclass
class Plan:
    """What a hybrid is made of: the checked experiments and every target's source."""

    experiments: list[Experiment]
    chosen: dict[str, Choice]
    method: str  # auto | explicit
    warnings: list[str]


def plan(cfg: MultitaskConfig, experiments: list[Experiment],
         mapping: dict[str, Path] | None) -> Plan:
    """Check the experiments against each other and choose the sources (nothing is written)."""
    check_same(experiments)
    warnings: list[str] = []
    chosen = choose(cfg, experiments, mapping, warnings)
    if len({e.scores["seed"] for e in experiments}) > 1:
        warnings.append("the sources have different seeds; seed is the first listed source's, "
                        "each source's is in sources")
    return Plan(experiments, chosen, "auto" if mapping is None else "explicit", warnings)


def write(task: str, cfg: MultitaskConfig, fused: Plan, outdir: Path) -> dict[str, Any]:
    """Combine, score and write the hybrid into ``outdir``; its scores.json content."""
    table = read(cfg)
    rows = fused.experiments[0].predictions
    if list(table.file_ids) != rows.file_ids or [str(s) for s in table.splits] != rows.splits:
        raise UserError(f"{cfg.data.data_info} no longer has the rows and splits that "
                        f"{fused.experiments[0].folder} predicted")
    targets = scoring.build_targets(cfg, table)
    pred = {t.name: fused.chosen[t.name].experiment.predictions.values[t.name] for t in targets}
    for t, c in fused.chosen.items():
        LOG.info("%s <- %s (val %s %.4f)", t, c.experiment.folder, "+".join(c.keys), c.value)
    done = results.score(cfg, table, targets, pred)
    results.write_outputs(outdir, cfg, table, targets, pred, done, "hybrid")
    who = _identity(fused)
    name = cfg.selection.name
    selection = {"metric": f"val_{name}", "method": fused.method}
    if name in done.metrics.get("val", {}):
        selection["value"] = done.metrics["val"][name]
    sources = {t: {"expdir": str(c.experiment.folder),
                   "upstream": c.experiment.scores["upstream"]["name"],
                   "seed": c.experiment.scores["seed"],
                   "epoch": c.experiment.scores["selection"].get("epoch"),
                   "criterion": "+".join(f"val_{k}" for k in c.keys), "value": c.value}
               for t, c in fused.chosen.items()}
    result = results.scores_record(
        cfg, table, targets, done, task=task, upstream=who["upstream"], seed=who["seed"],
        checkpoint=None, selection=selection, feature_path="hybrid",
        warnings=list(fused.warnings), upstreams=who["upstreams"], extra={"sources": sources})
    scores.write(outdir / "scores.json", result)
    return result
