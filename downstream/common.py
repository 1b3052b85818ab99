"""What every task does the same way around its own training: the upstream of a run, the
checkpoint format check, the upstream's record in scores.json, the layer-weights outputs, and
``-m extract``."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any


from emobench.core import checkpoint_file, io, svg
from emobench.core.config import ConfigError
from emobench.core.context import RunContext
from emobench.core.experiment import LOG
from emobench.downstream import finetuning
from emobench.downstream.pooling import feature_cache, fill_cache
from emobench.downstream.waveforms import WaveformDataset
from emobench.upstream import Featurizer, FrozenUpstream, build_upstream

NO_FINE_TUNING = ("this task trains on pooled features from the feature cache only; the "
                  "emotion and multitask tasks fine-tune on their frames path")


def upstream_of(ctx: RunContext, functionals: str = "mean",
                fine_tune: str | None = NO_FINE_TUNING) -> FrozenUpstream:
    """The run's frozen upstream on its device; ``mean_std`` functionals need frames.

    With ``-f`` it is made trainable where the caller can fine-tune (``fine_tune`` None), else
    refused with the reason ``fine_tune`` gives (downstream/finetuning.py)."""
    spec = ctx.upstream
    upstream = build_upstream(spec.name, spec.checkpoint, spec.padded_batch).to(ctx.device)
    if functionals == "mean_std" and not upstream.info.frame_rate:
        raise ConfigError(f"{upstream.info.name} gives one vector per utterance: it has no "
                          "frames to take a standard deviation over (use "
                          "model.functionals=mean)")
    finetuning.enable(ctx, upstream, fine_tune)
    return upstream


def featurizer_of(ctx: RunContext, upstream: FrozenUpstream) -> Featurizer:
    return Featurizer(upstream.num_layers, ctx.upstream.layer, ctx.upstream.normalize)


def load_checkpoint(path: Path, checkpoint_format: str, task: str) -> dict[str, Any]:
    """A task's checkpoint (plain data, ``weights_only``); another file is a ConfigError."""
    saved = checkpoint_file.load(path, f"{task} checkpoint")
    if not isinstance(saved, dict) or saved.get("format") != checkpoint_format:
        raise ConfigError(f"{path} is not an emobench {task} checkpoint")
    return saved


def check_upstream(saved: dict[str, Any], upstream: FrozenUpstream, checkpoint: Path) -> None:
    if upstream.checkpoint_sha256 != saved["upstream_sha256"]:
        raise ConfigError(f"{checkpoint} was trained on upstream weights with sha256 "
                          f"{saved['upstream_sha256']}, not {upstream.checkpoint_sha256}")


def upstream_record(ctx: RunContext, upstream: FrozenUpstream) -> dict[str, Any]:
    """The ``upstream`` entry of scores.json; ``measured``: the loaded upstream's shapes and
    parameter count (a tiny checkpoint's differ from the published model's);
    ``training_data_flag``: e.g. "emotion labels (...)" for upstreams trained on emotion data,
    else null."""
    params = sum(p.numel() for p in upstream.expert.parameters())
    return {**asdict(ctx.upstream), "name": upstream.info.name,
            "checkpoint_sha256": upstream.checkpoint_sha256, "source": upstream.source,
            "training_data_flag": upstream.info.training_data_flag,
            "measured": {"hidden_states": upstream.num_layers, "dim": upstream.dim,
                         "params_m": round(params / 1e6, 4)}}


def write_layer_weights(outdir: Path, featurizer: Featurizer, upstream: FrozenUpstream,
                        ctx: RunContext, title: str) -> None:
    """``layer_weights.json`` and ``layer_weights.svg`` of a trained model."""
    weights = featurizer.layer_weights()
    io.write_json(outdir / "layer_weights.json",
                  {"upstream": upstream.info.name, "layer": ctx.upstream.layer,
                   "normalize": ctx.upstream.normalize, "weights": weights})
    svg.layer_weights(weights, f"{upstream.info.name} layer weights ({title})",
                      outdir / "layer_weights.svg")


def require_paths(data: Any, keys: tuple[str, ...]) -> None:
    """The data config's path fields ``keys`` are set (they have no default)."""
    for key in keys:
        if getattr(data, key) is None:
            raise ConfigError(f"data.{key} is not set: give it in a config file (-c) or with "
                              f"-o data.{key}=PATH (or run the demo with --demo)")


def require_cache(data: Any) -> None:
    """``-m extract`` fills the on-disk cache: ``data.cache_dir`` must name one."""
    if data.cache_dir is None:
        raise ConfigError("-m extract needs data.cache_dir (it is null)")


def extract_shard(ctx: RunContext, dataset: WaveformDataset, upstream: FrozenUpstream,
                  batch_size: int, shard: tuple[int, int], what: str = "utterances") -> int:
    """Fill the feature cache with one shard of ``dataset`` (``-m extract``); entries written."""
    data = ctx.config.data
    require_cache(data)
    cache = feature_cache(data.cache_dir, dataset, upstream, ctx.upstream.normalize,
                          data.cache_dtype, data.extract_precision)
    keys, written = fill_cache(cache, dataset, upstream, ctx.upstream.normalize, batch_size,
                               ctx.device, shard)
    LOG.info("shard %d/%d: %d new entries; %d of %d %s cached in %s", *shard, written,
             len(keys) - len(cache.missing(keys)), len(set(keys)), what, cache.folder)
    return written
