"""``run_downstream.py``: s3prl's command line, for the toolkit's tasks.

Modes: ``train`` (a new run, or a resumed one with ``-e``/``-a``), ``evaluate`` (a checkpoint
or experiment folder given with ``-e``) and ``prepare`` (a corpus recipe writing label files).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import torch
import yaml

from emobench import io
from emobench.config import ConfigError, build, dump_yaml, load_yaml, merge, resolve, to_dict
from emobench.context import RunContext, UpstreamSpec
from emobench.errors import UserError
from emobench.experiment import LOG, REPO_ROOT, provenance, setup_logging

RESULTS = Path("results")
STALE = ("last.ckpt", "dev-best.ckpt", "scores.json", "predictions.csv", "layer_weights.json",
         "log.log", "events.out.tfevents.*", "*_fold*_predict.txt", "*_fold*_truth.txt",
         "*.png", "ExVo-Multi_*.csv", "seeds.json", "seeds.md")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="run_downstream.py", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: python run_downstream.py -m train -u fbank_no_cmvn -d emotion --demo -n demo")
    p.add_argument("-m", "--mode",
                   choices=("train", "evaluate", "extract", "prepare", "audit", "report",
                            "sweep"),
                   default="train")
    p.add_argument("-u", "--upstream", help="upstream name (see --list-upstreams)")
    p.add_argument("-k", "--upstream_ckpt", help="local checkpoint for the upstream")
    p.add_argument("-d", "--downstream", help="task name (see --list-tasks)")
    p.add_argument("-c", "--config", help="YAML config file (e.g. configs/emotion/emodb.yaml)")
    p.add_argument("-o", "--override", action="append",
                   help='overrides "config.a.b=v,,config.c=w" (YAML values); may be repeated')
    p.add_argument("-n", "--expname", help="experiment name: folder results/downstream/<n>")
    p.add_argument("-p", "--expdir", help="experiment folder (instead of -n)")
    p.add_argument("-e", "--past_exp", help="checkpoint or experiment folder: evaluate or resume")
    p.add_argument("-a", "--auto_resume", action="store_true",
                   help="resume from the experiment folder's last.ckpt when present")
    p.add_argument("-l", "--upstream_layer_selection", type=int,
                   help="use this hidden state alone instead of the weighted sum")
    p.add_argument("--upstream_feature_normalize", action="store_true",
                   help="layer-norm every hidden state before the weighted sum")
    p.add_argument("--upstream_padded_batch", action="store_true", default=None,
                   help="run the upstream on padded batches (faster; features of some upstreams "
                        "then differ from the utterance alone: docs/upstreams.md)")
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--folds",
                   help="train: 'all' folds of the condition or a list '1,3', each into fold<k>/, "
                        "then aggregate.json (mean +- std over folds) for -m report")
    p.add_argument("--seeds", type=int, default=1,
                   help="train: run seeds SEED..SEED+N-1 (folders seed<k>/) and write mean +- std "
                        "and the best-on-validation seed to seeds.json")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    p.add_argument("--demo", action="store_true",
                   help="generate the task's demo corpus under results/demo/ and run on it")
    p.add_argument("--list-upstreams", action="store_true", help="list upstream names and exit")
    p.add_argument("--list-tasks", action="store_true", help="list task names and exit")
    p.add_argument("--shard", help="extract: the i-th of n parts (i/n), for parallel jobs")
    p.add_argument("--recipe", help="prepare: corpus recipe (e.g. emodb)")
    p.add_argument("--source", help="prepare: the corpus as distributed")
    p.add_argument("--target", help="prepare: folder for the label files")
    p.add_argument("--launcher", default="local",
                   help="sweep: where the jobs run: local (worker processes) or slurm (submitit)")
    p.add_argument("--dry-run", action="store_true",
                   help="sweep: print the job graph and the cost estimate, run nothing")
    p.add_argument("--throughput",
                   help="sweep --dry-run: measured extraction throughput file (default "
                        "configs/sweeps/throughput.yaml)")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def _device(name: str | None) -> torch.device:
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {name}: CUDA is not available on this machine")
    return device


def _task(name: str | None):
    from downstream import TASKS

    if not name:
        raise UserError("-d/--downstream is required (see --list-tasks)")
    return TASKS.canonical(name), TASKS.get(name)


def _expdir(args: argparse.Namespace, default_name: str) -> Path:
    if args.expdir:
        return Path(args.expdir)
    return RESULTS / "downstream" / (args.expname or default_name)


def _clear_previous(expdir: Path) -> None:
    stale = [p for pattern in STALE for p in expdir.glob(pattern)]
    if stale:
        LOG.warning("%s holds a previous run: replacing its outputs (use -a to resume instead)",
                    expdir)
        for path in stale:
            path.unlink()


def _write_run_config(expdir: Path, record: dict[str, Any], config: Any, argv: Sequence[str]):
    text = dump_yaml({"run": record, "config": to_dict(config),
                      "command": ["run_downstream.py", *argv], "provenance": provenance()})
    io.write_text(expdir / "config.yaml", text)


def _resume_context(args, expdir: Path, argv) -> RunContext:
    last = expdir / "last.ckpt"
    saved_run = expdir / "config.yaml"
    if not last.is_file() or not saved_run.is_file():
        raise UserError(f"cannot resume: {expdir} has no last.ckpt and config.yaml")
    saved = load_yaml(saved_run)
    task, module = _task(saved["run"]["task"])
    config = resolve(module.CONFIG, saved["config"], args.override)
    module.check(config)
    setup_logging(expdir, args.verbose)
    _write_run_config(expdir, saved["run"], config, argv)
    return RunContext("train", task, expdir, UpstreamSpec(**saved["run"]["upstream"]),
                      int(saved["run"]["seed"]), _device(args.device), config, resume=last)


def _default_name(args: argparse.Namespace, task: str, upstream: str) -> str:
    return f"{task}_{upstream}" + ("_demo" if args.demo else "")


def _train_seeds(args: argparse.Namespace, argv: Sequence[str]) -> dict[str, Any]:
    """Train ``--seeds N`` runs into ``<expdir>/seed<k>/`` and summarise them in seeds.json.

    With ``-a`` a finished seed (scores.json present) is reused and an interrupted one resumed.
    """
    from upstream import UPSTREAMS
    from emobench import seeds

    if args.past_exp:
        raise UserError("--seeds cannot be combined with -e; use -a with the same -n/-p")
    if not args.upstream:
        raise UserError("-u/--upstream is required for training (see --list-upstreams)")
    task, module = _task(args.downstream)
    base = _expdir(args, _default_name(args, task, UPSTREAMS.canonical(args.upstream)))
    results = {}
    for seed in range(args.seed, args.seed + args.seeds):
        folder = base / f"seed{seed}"
        if args.auto_resume and (folder / "scores.json").is_file():
            results[seed] = json.loads((folder / "scores.json").read_text(encoding="utf-8"))
            LOG.info("seed %d: reusing the finished run in %s", seed, folder)
            continue
        one = argparse.Namespace(**{**vars(args), "seed": seed, "seeds": 1,
                                    "expdir": str(folder)})
        results[seed] = _train(one, argv)
    summary = {"task": task, "expdir": str(base), **seeds.summarize(results, module.SELECTION)}
    summary["best_expdir"] = str(base / f"seed{summary['best_seed']}")
    io.write_json(base / "seeds.json", summary)
    io.write_text(base / "seeds.md", seeds.table(summary))
    LOG.info("%d seeds -> %s\n%s", args.seeds, base / "seeds.json", seeds.table(summary))
    return summary


def _train_folds(args: argparse.Namespace, argv: Sequence[str]) -> dict[str, Any]:
    """Train folds into ``<expdir>/fold<k>/`` and write the condition's ``aggregate.json``.

    With ``-a`` a finished fold (scores.json present) is reused and an interrupted one resumed.
    """
    from upstream import UPSTREAMS
    from emobench import aggregate

    if args.past_exp or args.seeds != 1:
        raise UserError("--folds cannot be combined with -e or --seeds; use -a to resume")
    if not args.upstream:
        raise UserError("-u/--upstream is required for training (see --list-upstreams)")
    task, module = _task(args.downstream)
    if not hasattr(module, "folds"):
        raise UserError(f"task {task} has no folds")
    available = module.folds(_config(args, task, module))
    if args.folds == "all":
        chosen = available
    else:
        try:
            chosen = sorted({int(f) for f in args.folds.split(",")})
        except ValueError:
            raise UserError(f"--folds {args.folds!r}: 'all' or a list like 1,3") from None
        unknown = [f for f in chosen if f not in available]
        if unknown:
            raise UserError(f"--folds {args.folds}: no fold {unknown}; the condition has "
                            f"{available}")
    base = _expdir(args, _default_name(args, task, UPSTREAMS.canonical(args.upstream)))
    results, weights = {}, {}
    for fold in chosen:
        folder = base / f"fold{fold}"
        if args.auto_resume and (folder / "scores.json").is_file():
            results[fold] = json.loads((folder / "scores.json").read_text(encoding="utf-8"))
            LOG.info("fold %d: reusing the finished run in %s", fold, folder)
        else:
            override = ",,".join(x for x in (args.override, f"data.fold={fold}") if x)
            one = argparse.Namespace(**{**vars(args), "folds": None, "override": override,
                                        "expdir": str(folder)})
            results[fold] = _train(one, argv)
        layer_file = folder / "layer_weights.json"
        if layer_file.is_file():
            weights[fold] = json.loads(layer_file.read_text(encoding="utf-8"))["weights"]
    summary = aggregate.folds(results, weights if len(weights) == len(results) else None)
    io.write_json(base / "aggregate.json", summary)
    main = summary["main"]
    LOG.info("%s %s/%s, %d folds: test %s %.4f +- %.4f (per fold %s) -> %s", summary["upstream"],
             summary["corpus"], summary["condition"], len(chosen), main["name"], main["mean"],
             main["std"], [round(v, 4) for v in main["per_fold"]], base / "aggregate.json")
    return summary


def _report(args: argparse.Namespace) -> None:
    """Tables and figures of every aggregate.json under -p (default results/downstream)."""
    from emobench import tables

    setup_logging(None, args.verbose)
    root = Path(args.expdir) if args.expdir else RESULTS / "downstream"
    out = RESULTS / "report" / args.expname if args.expname else root / "report"
    for path in tables.write_report(root, out, args.downstream or "emotion"):
        print(path)
    print((out / "table.md").read_text(encoding="utf-8"))


def _train(args: argparse.Namespace, argv: Sequence[str]) -> dict[str, Any]:
    if args.folds:
        return _train_folds(args, argv)
    if args.seeds != 1:
        if args.seeds < 1:
            raise UserError("--seeds must be >= 1")
        return _train_seeds(args, argv)
    if args.past_exp:
        past = Path(args.past_exp)
        ctx = _resume_context(args, past if past.is_dir() else past.parent, argv)
        return _module(ctx.task).train(ctx)
    if not args.upstream:
        raise UserError("-u/--upstream is required for training (see --list-upstreams)")
    from upstream import UPSTREAMS

    upstream = UPSTREAMS.canonical(args.upstream)
    task, module = _task(args.downstream)
    expdir = _expdir(args, _default_name(args, task, upstream))
    if args.auto_resume and (expdir / "last.ckpt").is_file():
        ctx = _resume_context(args, expdir, argv)
        return module.train(ctx)

    config = _config(args, task, module)
    module.check(config)

    expdir.mkdir(parents=True, exist_ok=True)
    setup_logging(None)
    _clear_previous(expdir)
    setup_logging(expdir, args.verbose)
    spec = _upstream_spec(args, upstream)
    ctx = RunContext("train", task, expdir, spec, args.seed, _device(args.device), config)
    _write_run_config(expdir, ctx.run_record(), config, argv)
    LOG.info("experiment folder %s; command: run_downstream.py %s", expdir, " ".join(argv))
    return module.train(ctx)


def _config(args: argparse.Namespace, task: str, module) -> Any:
    """Typed defaults <- YAML file (or the demo's) <- demo data paths <- -o overrides."""
    layers: dict[str, Any] = {}
    config_file = args.config
    if args.demo:
        default = REPO_ROOT / "configs" / task / "demo.yaml"
        config_file = config_file or (str(default) if default.is_file() else None)
    if config_file:
        layers = load_yaml(config_file)
        build(module.CONFIG, layers)  # unknown keys in the file are reported by their path
    if args.demo:
        # the demo sees the file and the overrides (e.g. -o data.condition=arousal picks a demo
        # label condition); its data paths then sit under the overrides
        chosen = to_dict(resolve(module.CONFIG, layers, args.override))
        asked = {"data": {"condition": chosen["data"]["condition"]}} \
            if "condition" in chosen.get("data", {}) else {}
        layers = merge(layers, module.demo(RESULTS / "demo" / task, merge(layers, asked)))
    return resolve(module.CONFIG, layers, args.override)


def _upstream_spec(args: argparse.Namespace, upstream: str) -> UpstreamSpec:
    return UpstreamSpec(upstream, args.upstream_ckpt, args.upstream_layer_selection,
                        args.upstream_feature_normalize, args.upstream_padded_batch)


def _extract(args: argparse.Namespace) -> int:
    from upstream import UPSTREAMS
    from upstream.cache import parse_shard

    if not args.upstream:
        raise UserError("-m extract needs -u/--upstream")
    shard = parse_shard(args.shard)
    upstream = UPSTREAMS.canonical(args.upstream)
    task, module = _task(args.downstream)
    config = _config(args, task, module)
    setup_logging(None, args.verbose)
    ctx = RunContext("extract", task, Path(config.data.cache_dir or "."),
                     _upstream_spec(args, upstream), args.seed,
                     _device(args.device), config)
    return module.extract(ctx, shard)


def _audit(args: argparse.Namespace) -> int:
    """Leakage audit of every fold of the emotion label folder: 0 clean, 1 leaky."""
    from downstream.emotion.audit import audit, partition_spec, summary

    task, module = _task(args.downstream or "emotion")
    if task != "emotion":
        raise UserError(f"-m audit audits EMO-SUPERB label folders (-d emotion), not -d {task}")
    config = _config(args, task, module)
    module.check_data(config)
    setup_logging(None, args.verbose)
    data = config.data
    spec = partition_spec(data.partition) if data.partition else None
    report = audit(data.label_dir, data.audio_root, folds=None, partition=spec)
    out = Path(args.expdir) if args.expdir else RESULTS / "audit"
    path = io.write_json(out / f"{Path(data.label_dir).resolve().name}_audit.json", report)
    print(summary(report))
    print(f"audit written to {path}")
    if report["leaky"]:
        print(f"leakage found in {data.label_dir}: see the problems above", file=sys.stderr)
    return 1 if report["leaky"] else 0


def _module(task: str):
    return _task(task)[1]


def _evaluate(args: argparse.Namespace, argv: Sequence[str]) -> dict[str, Any]:
    if not args.past_exp:
        raise UserError("-m evaluate needs -e CHECKPOINT (or an experiment folder)")
    checkpoint = Path(args.past_exp)
    if checkpoint.is_dir():
        checkpoint = checkpoint / "dev-best.ckpt"
    if not checkpoint.is_file():
        raise UserError(f"checkpoint {checkpoint} does not exist")
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    if not isinstance(saved, dict) or "run" not in saved or "config" not in saved:
        raise UserError(f"{checkpoint} is not an emobench checkpoint")
    run = saved["run"]
    task, module = _task(run["task"])
    spec = UpstreamSpec(**run["upstream"])
    if args.upstream_ckpt:  # the same upstream weights at another path
        spec.checkpoint = args.upstream_ckpt
    config = resolve(module.CONFIG, saved["config"], args.override)
    expdir = Path(args.expdir) if args.expdir else checkpoint.parent / f"evaluate_{checkpoint.stem}"
    setup_logging(expdir, args.verbose)
    ctx = RunContext("evaluate", task, expdir, spec, int(run["seed"]), _device(args.device),
                     config, checkpoint=checkpoint)
    _write_run_config(expdir, ctx.run_record(), config, argv)
    return module.evaluate(ctx)


def _prepare(args: argparse.Namespace) -> None:
    """Run a corpus recipe; ``-o key=value`` become its keyword arguments (YAML-typed values)."""
    import inspect

    from corpora.registry import RECIPES
    from emobench.config import parse_overrides
    from emobench.registry import closest

    if not (args.recipe and args.source and args.target):
        raise UserError("-m prepare needs --recipe, --source and --target")
    name = RECIPES.canonical(args.recipe)
    recipe = RECIPES.get(name)
    params = list(inspect.signature(recipe).parameters.values())[2:]  # after source, target
    accepted = [p.name for p in params
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    any_keyword = any(p.kind is p.VAR_KEYWORD for p in params)
    options = dict(parse_overrides(args.override))
    unknown = [key for key in options if key not in accepted and not any_keyword]
    if unknown:
        near = [hit for key in unknown for hit in closest(key, accepted, n=1)]
        hint = f"; did you mean: {', '.join(near)}?" if near else ""
        takes = (f"its options are: {', '.join(accepted)}" if accepted
                 else "it takes no options")
        raise UserError(f"recipe {name!r} has no option {', '.join(map(repr, unknown))}"
                        f"{hint} ({takes}; -o key=value,,key=value)")
    setup_logging(None, args.verbose)
    written = recipe(Path(args.source), Path(args.target), **options)
    for path in written:
        print(path)


def _list_upstreams() -> None:
    from upstream import UPSTREAMS, upstream_info

    rows = [("name", "aliases", "hidden", "dim", "frames/s", "params (M)", "description")]
    for name in UPSTREAMS.names():
        info = upstream_info(name)
        rows.append((name, ", ".join(UPSTREAMS.aliases_of(name)) or "-", str(info.hidden_states),
                     str(info.dim), f"{info.frame_rate:g}" if info.frame_rate else "utterance",
                     "?" if info.params_m is None else f"{info.params_m:g}", info.description))
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    for row in rows:
        print("  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths))) + "  " + row[6])


def _list_tasks() -> None:
    from downstream import TASKS

    for name in TASKS.names():
        print(f"{name:<12}{TASKS.entry(name).meta.get('description', '')}")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.override = ",,".join(args.override) if args.override else None
    try:
        if args.list_upstreams:
            _list_upstreams()
        elif args.list_tasks:
            _list_tasks()
        elif args.mode == "prepare":
            _prepare(args)
        elif args.mode == "evaluate":
            _evaluate(args, argv)
        elif args.mode == "extract":
            _extract(args)
        elif args.mode == "audit":
            return _audit(args)
        elif args.mode == "report":
            _report(args)
        elif args.mode == "sweep":
            from emobench.sweep import command

            setup_logging(None, args.verbose)
            return command.main(args.config, args.launcher, args.dry_run, args.throughput)
        else:
            _train(args, argv)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
