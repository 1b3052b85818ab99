"""ExVo-Generate scoring (``-m score_generation``; docs/exvo_generate.md): FID per targeted
emotion in a classifier's feature space against a multitask corpus, the corpus's own
train-vs-validation FID matrix (Table 3's lower bound), HEEP and S_GEN from human ratings.

The reference distribution of an emotion: the corpus's training clips whose dominant emotion it
is (the argmax of the emotion target's values; ties join every tied emotion; a clip whose values
are all 0 joins none; both counted). The emotion target is the target named ``emotion``, else
the first intensities, categorical or soft_categorical target of the config.

The feature space (``classifier`` in the result):

- ``checkpoint`` (``-e``, a trained multitask / exvo_mtl experiment): the trained network's
  shared representation, the output of its trunk (Sys-1: 64 values) that every head reads: the
  analogue of Inception's pool features in the original FID, trained on the corpus's targets,
  and low-dimensional, so 100 generated clips give a full-rank covariance. With ``model.system:
  none`` the trunk is the identity and the features are the z-scored, layer-weighted pooled
  functionals with the trained layer weights.
- ``upstream`` (``-u`` alone): the upstream's pooled functionals, hidden states averaged with
  uniform weights (or the ``-l`` one), not standardised: no classifier is trained.

Every clip's pooled statistics come from the feature cache (``data.cache_dir``), keyed by the
audio's content, so the reference corpus is extracted once for every scoring run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from emobench.core import json_schema
from emobench.core.config import ConfigError
from emobench.core.context import RunContext
from emobench.core.experiment import LOG, provenance
from emobench.downstream import common
from emobench.downstream.exvo import generation_metrics as gm
from emobench.downstream.exvo.generation_inputs import read_ratings, scan_generated
from emobench.downstream.exvo.generation_report import log_table
from emobench.downstream.functionals import functionals
from emobench.downstream.multitask.config import MultitaskConfig
from emobench.downstream.multitask.inputs import input_branches
from emobench.downstream.multitask.model import MultitaskModel
from emobench.downstream.multitask.scoring import build_targets
from emobench.downstream.multitask.task import CHECKPOINT_FORMAT, read
from emobench.downstream.pooling import pooled_statistics
from emobench.downstream.standardize_cache import training_standardizer
from emobench.downstream.waveforms import Standardizer, WaveformDataset
from emobench.upstream import FrozenUpstream

SCHEMA = "generation_scores"
RESULT_FILE = "generation_scores.json"
EMOTION_KINDS = ("intensities", "categorical", "soft_categorical")


def emotion_target(cfg: MultitaskConfig) -> str:
    """The name of the target whose columns are the emotions (module docstring)."""
    names = [t.name for t in cfg.targets]
    if "emotion" in names:
        return "emotion"
    for t in cfg.targets:
        if t.kind in EMOTION_KINDS:
            return t.name
    raise ConfigError(f"no emotion target: the config's targets {names} have none named "
                      f"'emotion' and none of kind {', '.join(EMOTION_KINDS)}")


class FeatureSpace:
    """The classifier's features of audio files (module docstring)."""

    def __init__(self, ctx: RunContext, table_source: Path, train_paths: list[Path],
                 targets: list):
        cfg: MultitaskConfig = ctx.config
        self.ctx, self.source = ctx, table_source
        self.upstream: FrozenUpstream = common.upstream_of(ctx, cfg.model.functionals)
        self.model: MultitaskModel | None = None
        if ctx.checkpoint is not None:
            saved = common.load_checkpoint(ctx.checkpoint, CHECKPOINT_FORMAT, "multitask")
            if (isinstance(saved["feature_dim"], list) or "text" in saved
                    or saved["run"]["upstream"].get("trainable")):
                raise ConfigError(f"{ctx.checkpoint}: score_generation's feature space is a "
                                  "speech-only network on one frozen upstream; this one was "
                                  "trained with several upstreams, a text input or -f")
            common.check_upstream(saved, self.upstream, ctx.checkpoint)
            self.standardizer = Standardizer(**saved["standardizer"])
            self.model = MultitaskModel(
                input_branches([common.featurizer_of(ctx, self.upstream)], saved["feature_dim"]),
                targets, cfg.model.system, cfg.model.head_hidden,
                cfg.train.loss_combination == "uncertainty").to(ctx.device)
            self.model.load_state_dict(saved["model"])
            self.model.eval()
        else:
            self.standardizer = training_standardizer(cfg.data.standardize, train_paths,
                                                      cfg.data.max_seconds, table_source,
                                                      cfg.data.cache_dir)
            self.featurizer = common.featurizer_of(self.ctx, self.upstream)

    def describe(self, dim: int) -> dict[str, Any]:
        cfg: MultitaskConfig = self.ctx.config
        if self.model is not None:
            what = (f"trunk output of the trained {cfg.model.system} network" if
                    cfg.model.system != "none" else "z-scored pooled functionals, trained layer "
                                                    "weights (model.system none)")
            return {"kind": "checkpoint", "checkpoint": str(self.ctx.checkpoint),
                    "features": what, "dim": dim, "functionals": cfg.model.functionals}
        layer = self.ctx.upstream.layer
        what = (f"pooled functionals of hidden state {layer}" if layer is not None else
                "pooled functionals, hidden states averaged with uniform weights")
        return {"kind": "upstream", "checkpoint": None, "features": what, "dim": dim,
                "functionals": cfg.model.functionals}

    @torch.no_grad()
    def __call__(self, paths: list[Path]) -> np.ndarray:
        cfg: MultitaskConfig = self.ctx.config
        dataset = WaveformDataset(paths, cfg.data.max_seconds, self.standardizer, False,
                                  self.source)
        names = ("mean",) if cfg.model.functionals == "mean" else ("mean", "square")
        stats = pooled_statistics(dataset, self.upstream, self.ctx.upstream.normalize,
                                  cfg.train.extract_batch_size, self.ctx.device,
                                  cfg.data.cache_dir, cfg.data.cache_dtype, names,
                                  precision=cfg.data.extract_precision)
        x = functionals(stats["mean"], stats.get("square"), cfg.model.functionals)
        parts = []
        for first in range(0, len(x), 512):
            batch = x[first:first + 512].to(self.ctx.device)
            if self.model is not None:
                parts.append(self.model.trunk(self.model.inputs(batch)).cpu())
            else:
                parts.append(self.featurizer.combine(batch.transpose(0, 1)).cpu())
        return torch.cat(parts).double().numpy()


def _by_emotion(features: np.ndarray, member: np.ndarray, emotions: list[str]
                ) -> dict[str, np.ndarray]:
    return {e: features[member[:, j]] for j, e in enumerate(emotions)}


def _none_if_nan(value: float) -> float | None:
    return None if not np.isfinite(value) else float(value)


def score(ctx: RunContext, generated_dir: str | Path, ratings_path: str | Path | None
          ) -> dict[str, Any]:
    """Score the generated clips; write ``generation_scores.json`` into ``ctx.expdir``."""
    cfg = ctx.config
    if not isinstance(cfg, MultitaskConfig):
        raise ConfigError(f"-m score_generation needs a multitask-corpus task (-d multitask or "
                          f"-d exvo_mtl, or an experiment of one), not {ctx.task}")
    name = emotion_target(cfg)
    table = read(cfg)
    targets = build_targets(cfg, table)
    target = next(t for t in targets if t.name == name)
    emotions = list(target.labels)
    generated = scan_generated(generated_dir, emotions)
    ratings = read_ratings(ratings_path, generated, emotions) if ratings_path else None

    member = gm.dominant(target.kind.truth(target, table))
    keep = {s: table.splits == s for s in ("train", "val")}
    space = FeatureSpace(ctx, table.source, table.subset("train").paths, targets)
    rows = keep["train"] | keep["val"]
    corpus = space([p for p, k in zip(table.paths, rows) if k])
    features = np.zeros((len(table), corpus.shape[1]))
    features[rows] = corpus
    ref = {s: _by_emotion(features[k], member[k], emotions) for s, k in keep.items()}
    counts = {s: {e: int(len(v)) for e, v in ref[s].items()} for s in ref}
    lacking = [e for e in generated.clips if counts["train"][e] < gm.MIN_CLIPS]
    if lacking:
        raise ConfigError(f"{table.source}: fewer than {gm.MIN_CLIPS} training clips whose "
                          f"dominant emotion is {lacking}: no reference distribution "
                          f"(training clips per emotion: {counts['train']})")

    gen = {e: space(paths) for e, paths in generated.clips.items()}
    fid = gm.fid_per_emotion(gen, ref["train"])
    both = [e for e in emotions if min(counts["train"][e], counts["val"][e]) >= gm.MIN_CLIPS]
    fid_val = {e: gm.fid(x, ref["val"][e]) for e, x in gen.items()
               if counts["val"][e] >= gm.MIN_CLIPS}
    matrix = gm.fid_matrix({e: ref["train"][e] for e in both}, {e: ref["val"][e] for e in both})
    dim = int(features.shape[1])
    warnings = [f"{e}: {len(x)} generated clips for {dim} feature dimensions: a singular "
                "covariance (FID is then biased upwards; the challenge uses 100 clips)"
                for e, x in gen.items() if gm.rank_deficient(len(x), dim)]

    heep: dict[str, float | None] = {}
    s_gen: dict[str, float | None] = {}
    if ratings is not None:
        for e, h in ratings.by_emotion.items():
            heep[e] = _none_if_nan(gm.heep([emotions.index(e)] * len(h), h))
            if heep[e] is None:
                warnings.append(f"{e}: HEEP undefined (all ratings of its clips are equal)")
            if e in fid and heep[e] is not None and fid[e] > 0:
                s_gen[e] = gm.s_gen(fid[e], heep[e])
            elif e in fid:
                s_gen[e] = None
                if fid[e] == 0:
                    warnings.append(f"{e}: FID 0, S_GEN undefined (1/FID)")
        unrated = sorted(set(generated.clips) - set(heep))
        if unrated:
            warnings.append(f"no rated clip of {unrated}: no HEEP or S_GEN for them")
    scored = {e: v for e, v in s_gen.items() if v is not None}

    result = {
        "schema_version": 1, "task": ctx.task, "corpus": cfg.data.corpus,
        "emotion_target": name, "emotions": emotions,
        "classifier": space.describe(dim),
        "upstream": common.upstream_record(ctx, space.upstream),
        "generated": {"root": str(generated.root),
                      "clips": {e: len(p) for e, p in generated.clips.items()},
                      "skipped": generated.skipped},
        "reference": {"source": str(table.source), "train_clips": counts["train"],
                      "val_clips": counts["val"],
                      "tied": {s: int((member[k].sum(axis=1) > 1).sum()) for s, k in keep.items()},
                      "unassigned": {s: int((~member[k].any(axis=1)).sum())
                                     for s, k in keep.items()}},
        "fid": fid, "fid_summary": gm.summary(fid), "fid_val": fid_val,
        "fid_all": gm.fid(np.concatenate(list(gen.values())), features[keep["train"]]),
        "train_val_fid": {"emotions": both, "matrix": matrix,
                          "diagonal": {e: matrix[e][e] for e in both}},
        "ratings": None if ratings is None else {
            "source": str(ratings.source), "ignored_columns": ratings.ignored_columns,
            "rated": {e: int(len(h)) for e, h in ratings.by_emotion.items()}},
        "heep": heep, "s_gen": s_gen,
        "s_gen_mean": gm.s_gen_mean(scored, emotions) if ratings is not None else None,
        "toolkit": provenance(), "warnings": ctx.warnings + warnings,
    }
    for text in warnings:
        LOG.warning(text)
    path = json_schema.write(ctx.expdir / RESULT_FILE, result, SCHEMA)
    log_table(result)
    LOG.info("wrote %s", path)
    return result
