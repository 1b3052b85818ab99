"""``-m prepare --recipe R --source S --target T``: a corpus recipe writes a task's label files.

``-o key=value`` become the recipe's keyword arguments (YAML-typed values).
"""

from __future__ import annotations

import inspect
from pathlib import Path

from emobench.core.config import parse_overrides
from emobench.core.errors import UserError
from emobench.core.experiment import setup_logging
from emobench.core.registry import closest
from emobench.orchestration.request import Request


def run(request: Request) -> None:
    from emobench.corpora.registry import RECIPES

    if not (request.recipe and request.source and request.target):
        raise UserError("-m prepare needs --recipe, --source and --target")
    name = RECIPES.canonical(request.recipe)
    recipe = RECIPES.get(name)
    params = list(inspect.signature(recipe).parameters.values())[2:]  # after source, target
    accepted = [p.name for p in params
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    any_keyword = any(p.kind is p.VAR_KEYWORD for p in params)
    options = dict(parse_overrides(request.override))
    unknown = [key for key in options if key not in accepted and not any_keyword]
    if unknown:
        near = [hit for key in unknown for hit in closest(key, accepted, n=1)]
        hint = f"; did you mean: {', '.join(near)}?" if near else ""
        takes = (f"its options are: {', '.join(accepted)}" if accepted
                 else "it takes no options")
        raise UserError(f"recipe {name!r} has no option {', '.join(map(repr, unknown))}"
                        f"{hint} ({takes}; -o key=value,,key=value)")
    setup_logging(None, request.verbose)
    written = recipe(Path(request.source).absolute(), Path(request.target).absolute(), **options)
    for path in written:
        print(path)
