"""The typed request: what the command line asked for, handed to one mode."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Request:
    """One invocation of ``run_downstream.py`` / ``emobench`` (s3prl's flags, typed)."""

    mode: str = "train"
    upstream: str | None = None  # -u
    upstream_ckpt: str | None = None  # -k
    downstream: str | None = None  # -d
    config: str | None = None  # -c
    override: str | None = None  # -o, joined with ",,"
    expname: str | None = None  # -n
    expdir: str | None = None  # -p
    past_exp: str | None = None  # -e
    auto_resume: bool = False  # -a
    layer: int | None = None  # -l
    feature_normalize: bool = False  # --upstream_feature_normalize
    padded_batch: bool | None = None  # --upstream_padded_batch
    trainable: bool = False  # -f/--upstream_trainable
    trainable_layers: int | None = None  # --upstream_trainable_layers
    seed: int = 1337
    folds: str | None = None
    seeds: int = 1
    overwrite: bool = False  # --overwrite: --seeds/--folds may replace a single run's outputs
    device: str | None = None
    demo: bool = False
    shard: str | None = None
    recipe: str | None = None
    source: str | None = None
    target: str | None = None
    launcher: str = "local"
    dry_run: bool = False
    throughput: str | None = None
    fuse_from: str | None = None  # --from
    generated: str | None = None  # score_generation: --generated
    ratings: str | None = None  # score_generation: --ratings
    audio: str | None = None  # inference: --audio
    html: bool = False  # report: --html
    verbose: bool = False
    experiments: tuple[str, ...] = ()  # compare: A B
    resamples: int | None = None  # compare: --resamples
    bootstrap_seed: int | None = None  # compare: --bootstrap-seed
    argv: tuple[str, ...] = field(default=())  # the command line as typed (for provenance)

    @classmethod
    def from_args(cls, args: argparse.Namespace, argv: list[str]) -> "Request":
        return cls(mode=args.mode, upstream=args.upstream, upstream_ckpt=args.upstream_ckpt,
                   downstream=args.downstream, config=args.config,
                   override=",,".join(args.override) if args.override else None,
                   expname=args.expname, expdir=args.expdir, past_exp=args.past_exp,
                   auto_resume=args.auto_resume, layer=args.upstream_layer_selection,
                   feature_normalize=args.upstream_feature_normalize,
                   padded_batch=args.upstream_padded_batch, seed=args.seed, folds=args.folds,
                   seeds=args.seeds, device=args.device, demo=args.demo, shard=args.shard,
                   recipe=args.recipe, source=args.source, target=args.target,
                   launcher=args.launcher, dry_run=args.dry_run, throughput=args.throughput,
                   fuse_from=args.fuse_from, generated=args.generated, ratings=args.ratings,
                   audio=args.audio,
                   verbose=args.verbose, argv=tuple(argv), trainable=args.upstream_trainable,
                   trainable_layers=args.upstream_trainable_layers,
                   experiments=tuple(getattr(args, "experiments", None) or ()),
                   resamples=getattr(args, "resamples", None),
                   bootstrap_seed=getattr(args, "bootstrap_seed", None), html=args.html,
                   overwrite=args.overwrite)

    def but(self, **changes) -> "Request":
        """A copy with ``changes`` (e.g. one fold's folder and override)."""
        return dataclasses.replace(self, **changes)

    def add_override(self, extra: str) -> "Request":
        return self.but(override=",,".join(x for x in (self.override, extra) if x))
