"""``-m fuse``: a hybrid system from finished multitask / exvo_mtl experiments (docs/fusion.md).

``--from emotion=A,country=A,age=B`` names each target's source (a folder, or a name under
results/downstream/); ``--from auto -e A,B`` chooses per target by its validation score; a YAML
file holds either form (``{emotion: A, age: B, country: A}`` or ``{auto: [A, B]}``). The hybrid
is written into ``-n NAME`` / ``-p DIR`` (default ``results/downstream/hybrid_<A>+<B>``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emobench.core.config import load_yaml, resolve, to_dict
from emobench.core.errors import UserError
from emobench.core.experiment import LOG, setup_logging
from emobench.orchestration import runs
from emobench.orchestration.request import Request


def folder_of(name: str) -> Path:
    """An experiment folder as given, or ``results/downstream/<name>``."""
    for candidate in (Path(name), runs.RESULTS / "downstream" / name):
        if candidate.is_dir():
            return candidate.absolute()
    raise UserError(f"experiment {name!r}: neither {name} nor "
                    f"{runs.RESULTS / 'downstream' / name} is a folder")


def sources(request: Request) -> tuple[list[Path], dict[str, Path] | None]:
    """The experiment folders (in order) and the target -> folder mapping (None: auto)."""
    given = request.fuse_from
    if not given:
        raise UserError("-m fuse needs --from: 'emotion=A,age=B,...', a YAML file, or 'auto' "
                        "with -e A,B")
    if given.endswith((".yaml", ".yml")) and Path(given).is_file():
        spec = load_yaml(given)
        if list(spec) == ["auto"] and isinstance(spec["auto"], list):
            names, mapping = [str(n) for n in spec["auto"]], None
        elif spec and all(isinstance(v, str) for v in spec.values()):
            names, mapping = list(dict.fromkeys(spec.values())), dict(spec)
        else:
            raise UserError(f"{given}: a mapping target: experiment, or auto: [experiments]")
    elif given == "auto":
        names, mapping = [n.strip() for n in (request.past_exp or "").split(",") if n.strip()], None
    else:
        mapping = {}
        for item in given.split(","):
            target, eq, name = (x.strip() for x in item.partition("="))
            if not eq or not target or not name or target in mapping:
                raise UserError(f"--from {given}: write target=experiment items once each, "
                                "comma separated (or auto with -e A,B, or a YAML file)")
            mapping[target] = name
        names = list(dict.fromkeys(mapping.values()))
    if mapping is None and not names:
        raise UserError("--from auto needs the experiments to choose from: -e A,B")
    if mapping is not None and request.past_exp:
        raise UserError("-e lists the experiments of --from auto; an explicit --from names them")
    folders = {name: folder_of(name) for name in names}
    return (list(dict.fromkeys(folders.values())),
            None if mapping is None else {t: folders[n] for t, n in mapping.items()})


def run(request: Request) -> dict[str, Any]:
    from emobench.downstream.multitask import hybrid
    from emobench.downstream.multitask.config import MultitaskConfig

    folders, mapping = sources(request)
    experiments = [hybrid.load(f) for f in folders]
    name, module = runs.task(experiments[0].task)
    if not issubclass(module.CONFIG, MultitaskConfig):
        raise UserError(f"{folders[0]}: task {name}; -m fuse combines multitask and exvo_mtl "
                        "experiments")
    if request.downstream and runs.task(request.downstream)[0] != name:
        raise UserError(f"-d {request.downstream}: the experiments are of task {name}")
    config = resolve(module.CONFIG, experiments[0].config, request.override)
    changed = [k for k in ("data", "targets", "selection")
               if to_dict(config)[k] != to_dict(resolve(module.CONFIG, experiments[0].config))[k]]
    if changed:
        raise UserError(f"-o changes {changed}: a hybrid is scored as its sources were (only "
                        "output.* may change, e.g. -o output.submission=2)")
    fused = hybrid.plan(config, experiments, mapping)
    folder = runs.expdir(request, "hybrid_" + "+".join(f.name for f in folders))
    if folder in folders:
        raise UserError(f"-m fuse would write into its source {folder}: choose -n or -p")
    folder.mkdir(parents=True, exist_ok=True)
    setup_logging(None)
    runs.clear_previous(folder)
    setup_logging(folder, request.verbose)
    record = {"task": name, "fuse": {"method": fused.method,
                                     "experiments": [str(f) for f in folders],
                                     **({"from": {t: str(f) for t, f in mapping.items()}}
                                        if mapping else {})}}
    runs.write_run_config(folder, record, config, request.argv)
    result = hybrid.write(name, config, fused, folder)
    LOG.info("hybrid -> %s: %s", folder, {t: s["expdir"] for t, s in result["sources"].items()})
    return result
