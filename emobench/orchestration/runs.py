"""What the modes share: tasks by name, devices, experiment folders, layered configs."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Any, Iterator

from emobench.core import checkpoint_file, io
from emobench.core.config import absolute_paths, build, dump_yaml, load_yaml, merge, resolve, to_dict
from emobench.core.context import RunContext, UpstreamSpec, upstreams_of
from emobench.core.errors import UserError
from emobench.core.experiment import LOG, provenance, setup_logging
from emobench.core.resources import data_dir
from emobench.orchestration.request import Request

RESULTS = Path("results")
STALE = ("last.ckpt", "dev-best.ckpt", "scores.json", "predictions.csv", "predictions.npz",
         "bootstrap_units.npz",
         "layer_weights.json", "log.log", "events.out.tfevents.*", "*_fold*_predict.txt",
         "*_fold*_truth.txt", "*.png", "*.svg", "ExVo-Multi_*.csv", "seeds.json", "seeds.md")


def device(name: str | None):
    import torch

    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    chosen = torch.device(name)
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {name}: CUDA is not available on this machine")
    return chosen


def task(name: str | None):
    """``(canonical name, task module)`` from the task registry."""
    from emobench.downstream import TASKS

    if not name:
        raise UserError("-d/--downstream is required (see --list-tasks)")
    return TASKS.canonical(name), TASKS.get(name)


def upstream_names(request: Request) -> list[str]:
    """The canonical names of ``-u``: one, or a comma list (early fusion)."""
    from emobench.upstream.registry import UPSTREAMS

    if not request.upstream:
        raise UserError("-u/--upstream is required for training (see --list-upstreams)")
    names = [n.strip() for n in request.upstream.split(",")]
    if len(names) > 1 and not all(names):
        raise UserError(f"-u {request.upstream}: an empty name in the comma list")
    return [UPSTREAMS.canonical(n) for n in names] if len(names) > 1 \
        else [UPSTREAMS.canonical(request.upstream)]


def canonical_upstream(request: Request) -> str:
    """The upstream's canonical name; several (``-u a,b``) joined as ``a+b``."""
    return "+".join(upstream_names(request))


def expdir(request: Request, default_name: str) -> Path:
    if request.expdir:
        return Path(request.expdir).absolute()
    return (RESULTS / "downstream" / (request.expname or default_name)).absolute()


def default_name(request: Request, task_name: str, upstream: str) -> str:
    from emobench.upstream.hf_models import folder_name  # hf:<folder or hub id> holds '/'

    return f"{task_name}_{folder_name(upstream)}" + ("_demo" if request.demo else "")


def check_available(specs: tuple[UpstreamSpec, ...]) -> None:
    """Refuse before anything is built when an upstream cannot be loaded here (its family's
    ``available(info, checkpoint)``, where it has one: missing weights offline, refusals)."""
    from emobench.upstream.registry import UPSTREAMS, upstream_info

    for spec in specs:
        check = getattr(UPSTREAMS.get(spec.name), "available", None)
        if check is not None:
            check(upstream_info(spec.name), spec.checkpoint)


@contextlib.contextmanager
def discarded_if_unavailable(folder: Path, created: bool) -> Iterator[None]:
    """A run folder this start created is removed again when its upstream turns out to be
    unavailable (weights missing offline, a refused upstream): a failed start leaves nothing."""
    from emobench.upstream.s3prl_compat import UpstreamUnavailable

    try:
        yield
    except UpstreamUnavailable:
        if created:
            setup_logging(None)
            shutil.rmtree(folder, ignore_errors=True)
        raise


def clear_previous(folder: Path) -> None:
    stale = [p for pattern in STALE for p in folder.glob(pattern)]
    if stale:
        LOG.warning("%s holds a previous run: replacing its outputs (use -a to resume instead)",
                    folder)
        for path in stale:
            path.unlink()


def refuse_single_run(base: Path, request: Request, what: str) -> None:
    """``--seeds``/``--folds`` write ``<base>/seed<k>/``: a single run already in ``base``
    would mix with them, so it is refused unless ``--overwrite`` (which removes it)."""
    single = [base / n for n in ("config.yaml", "scores.json", "last.ckpt") if (base / n).exists()]
    if not single:
        return
    if not request.overwrite:
        raise UserError(f"{base} holds a single run ({single[0].name}); {what} would mix their "
                        "results with it: choose another -n/-p, or add --overwrite to remove it")
    LOG.warning("%s: removing the single run there (--overwrite)", base)
    for path in [p for pattern in (*STALE, "config.yaml") for p in base.glob(pattern)]:
        path.unlink()


def discard_failed(folder: Path, created: bool) -> None:
    """After a UserError: remove the experiment folder this run created when it holds no
    checkpoint (the error was printed; nothing there is worth keeping)."""
    if not created or not folder.is_dir() or (folder / "last.ckpt").exists():
        return
    setup_logging(None)  # close log.log before removing it
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def write_run_config(folder: Path, record: dict[str, Any], config: Any, argv) -> None:
    text = dump_yaml({"run": record, "config": to_dict(config),
                      "command": ["run_downstream.py", *argv], "provenance": provenance()})
    io.write_text(folder / "config.yaml", text)


def config_file(path: str) -> str:
    """``-c FILE`` as given, or the packaged config of that name (``configs/emotion/x.yaml``)."""
    given = Path(path)
    if given.is_file():
        return path
    relative = given.parts[1:] if given.parts[:1] == ("configs",) else given.parts
    packaged = data_dir("configs").joinpath(*relative) if relative else None
    if packaged is not None and packaged.is_file() and not given.is_absolute():
        LOG.info("-c %s: not in %s; using the toolkit's %s", path, Path.cwd(), packaged)
        return str(packaged)
    raise UserError(f"config file {path} does not exist")


def resolve_config(request: Request, task_name: str, module) -> Any:
    """Typed defaults <- YAML file (or the demo's) <- demo data paths <- -o overrides.

    Path fields come out absolute (against the working directory), so that stored configs and
    checkpoints work from anywhere.
    """
    layers: dict[str, Any] = {}
    chosen_file = request.config and config_file(request.config)
    if request.demo:
        default = data_dir("configs") / task_name / "demo.yaml"
        chosen_file = chosen_file or (str(default) if default.is_file() else None)
    if chosen_file:
        layers = load_yaml(chosen_file)
        build(module.CONFIG, layers)  # unknown keys in the file are reported by their path
    if request.demo:
        # the demo sees the file and the overrides (e.g. -o data.condition=arousal picks a demo
        # label condition); its data paths then sit under the overrides
        chosen = to_dict(resolve(module.CONFIG, layers, request.override))
        asked = {"data": {"condition": chosen["data"]["condition"]}} \
            if "condition" in chosen.get("data", {}) else {}
        layers = merge(layers, module.demo(RESULTS / "demo" / task_name, merge(layers, asked)))
    return absolute_paths(resolve(module.CONFIG, layers, request.override), Path.cwd())


def upstream_spec(request: Request, upstream: str) -> UpstreamSpec:
    checkpoint = request.upstream_ckpt and str(Path(request.upstream_ckpt).expanduser().absolute())
    if request.trainable_layers is not None and not (request.trainable
                                                     and request.trainable_layers >= 1):
        raise UserError(f"--upstream_trainable_layers {request.trainable_layers}: a number of "
                        "layers >= 1, together with -f/--upstream_trainable")
    return UpstreamSpec(upstream, checkpoint, request.layer, request.feature_normalize,
                        request.padded_batch, request.trainable, request.trainable_layers)


def upstream_specs(request: Request, task_name: str, module) -> tuple[UpstreamSpec, ...]:
    """One spec per upstream of ``-u``. Several (early fusion) need a task that fuses them
    (``EARLY_FUSION``), take ``-k`` as a matching comma list (an empty item: no checkpoint)
    and no ``-l``; ``--upstream_feature_normalize`` and ``--upstream_padded_batch`` apply to
    each."""
    names = upstream_names(request)
    if len(names) == 1:
        return (upstream_spec(request, names[0]),)
    if not getattr(module, "EARLY_FUSION", False):
        raise UserError(f"-u {request.upstream}: task {task_name} takes one upstream; early "
                        "fusion of several is implemented for multitask and exvo_mtl")
    if request.trainable or request.trainable_layers is not None:
        raise UserError(f"-f/--upstream_trainable with several upstreams (-u {request.upstream}):"
                        " early fusion reads every upstream's features from the cache; "
                        "fine-tune one upstream at a time")
    if request.layer is not None:
        raise UserError(f"-l {request.layer} with several upstreams (-u {request.upstream}): "
                        "each upstream learns its own layer weights; -l is for one upstream")
    given = request.upstream_ckpt.split(",") if request.upstream_ckpt else [""] * len(names)
    if len(given) != len(names):
        raise UserError(f"-k {request.upstream_ckpt}: {len(given)} checkpoint(s) for the "
                        f"{len(names)} upstreams of -u {request.upstream}; give a comma list "
                        "with one item per upstream (empty for none, e.g. -k ,/path/b.pt)")
    return tuple(UpstreamSpec(name, str(Path(ckpt).expanduser().absolute()) if ckpt else None,
                              None, request.feature_normalize, request.padded_batch)
                 for name, ckpt in zip(names, (g.strip() for g in given)))


def resume_context(request: Request, folder: Path) -> RunContext:
    last = folder / "last.ckpt"
    saved_run = folder / "config.yaml"
    if not last.is_file() or not saved_run.is_file():
        raise UserError(f"cannot resume: {folder} has no last.ckpt and config.yaml")
    for partial in folder.glob(".*.tmp"):  # a write the killed run never finished (core/io.py)
        LOG.info("%s: removing %s, a write interrupted by the previous run", folder, partial.name)
        partial.unlink(missing_ok=True)
    saved = load_yaml(saved_run)
    name, module = task(saved["run"]["task"])
    config = resolve(module.CONFIG, saved["config"], request.override)
    module.check(config)
    setup_logging(folder, request.verbose)
    write_run_config(folder, saved["run"], config, request.argv)
    first, *more = upstreams_of(saved["run"])
    return RunContext("train", name, folder, first, int(saved["run"]["seed"]),
                      device(request.device), config, resume=last, more_upstreams=tuple(more))


def run_checkpoint(past_exp: str) -> tuple[Path, dict[str, Any]]:
    """``-e``: a trained checkpoint (or an experiment folder's ``dev-best.ckpt``) and its plain
    data (``weights_only``); a missing, truncated or foreign file is a UserError naming it."""
    checkpoint = Path(past_exp).absolute()
    if checkpoint.is_dir():
        checkpoint = checkpoint / "dev-best.ckpt"
    if not checkpoint.is_file():
        raise UserError(f"checkpoint {checkpoint} does not exist")
    saved = checkpoint_file.load(checkpoint, "emobench checkpoint (-e)")
    if not isinstance(saved, dict) or "run" not in saved or "config" not in saved:
        raise UserError(f"{checkpoint} is not an emobench checkpoint")
    return checkpoint, saved
