"""scores.json: every result with its provenance, validated against a published JSON schema."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from emobench.core import io, json_schema

SCHEMA_PATH = Path(__file__).with_name("schemas") / "scores.schema.json"


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def validate(scores: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` when ``scores`` does not follow the schema."""
    json_schema.validate(scores, "scores")


def write(path: str | Path, scores: dict[str, Any]) -> Path:
    validate(scores)
    return io.write_json(path, scores)


def read(path: str | Path) -> dict[str, Any]:
    scores = json.loads(Path(path).read_text(encoding="utf-8"))
    validate(scores)
    return scores
