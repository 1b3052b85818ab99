"""Result files other than scores.json, each validated against its schema in core/schemas/
before it is written (atomically, core/io.py)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from emobench.core import io

SCHEMAS = Path(__file__).with_name("schemas")


@lru_cache(maxsize=None)
def schema(name: str) -> dict[str, Any]:
    """The schema ``core/schemas/<name>.schema.json``."""
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def validator(name: str):
    """A validator of schema ``name``, built once (the schemas themselves are checked against
    their meta-schema by tests/test_schemas.py, not at every write)."""
    import jsonschema

    return jsonschema.validators.validator_for(schema(name))(schema(name))


def validate(obj: Any, name: str) -> None:
    """Raise ``jsonschema.ValidationError`` when ``obj`` does not follow schema ``name``."""
    from jsonschema.exceptions import best_match

    error = best_match(validator(name).iter_errors(obj))  # the error jsonschema.validate raises
    if error is not None:
        raise error


def write(path: str | Path, obj: Any, name: str) -> Path:
    validate(obj, name)
    return io.write_json(path, obj)


def read(path: str | Path, name: str) -> Any:
    obj = json.loads(Path(path).read_text(encoding="utf-8"))
    validate(obj, name)
    return obj
