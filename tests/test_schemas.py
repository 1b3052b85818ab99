"""The published JSON schemas are valid, and the cached validators behave as jsonschema.validate."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from emobench.core import json_schema, scores

NAMES = sorted(p.name[:-len(".schema.json")]
               for p in (Path(json_schema.__file__).with_name("schemas")).glob("*.schema.json"))


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_valid_under_its_meta_schema(name):
    schema = json_schema.schema(name)
    jsonschema.validators.validator_for(schema).check_schema(schema)


@pytest.mark.parametrize("name", NAMES)
def test_validate_raises_what_jsonschema_raises(name):
    bad = {"no such field": [1, 2]} if json_schema.schema(name).get("type") != "array" else {}
    try:
        jsonschema.validate(bad, json_schema.schema(name))
    except jsonschema.ValidationError as expected:
        with pytest.raises(jsonschema.ValidationError) as got:
            json_schema.validate(bad, name)
        assert (got.value.message, list(got.value.path)) == (expected.message,
                                                             list(expected.path))
    else:  # the schema accepts it: so does the cached validator
        json_schema.validate(bad, name)


def test_scores_validate_uses_the_scores_schema():
    assert NAMES.count("scores") == 1
    with pytest.raises(jsonschema.ValidationError):
        scores.validate({"metrics": "not an object"})
