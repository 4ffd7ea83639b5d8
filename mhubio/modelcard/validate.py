"""Validation of a model card against the JSON schema and the segment registry."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from mhubio.segdb import segment_ids

SCHEMA_PATH = Path(__file__).with_name("meta.schema.json")


@cache
def load_schema() -> dict[str, Any]:
    """The model card JSON schema."""
    return json.loads(SCHEMA_PATH.read_text())


def validate_model_card(path: Path, model_name: str | None = None) -> list[str]:
    """Problems of the model card at ``path`` (empty list = valid).

    Checks the JSON syntax, the schema, that ``id``/``name`` equal the folder
    name and that every output class is a segment id of :mod:`mhubio.segdb`.
    """
    try:
        card = json.loads(Path(path).read_text())
    except OSError as exc:
        return [f"{path}: cannot read ({exc.strerror})"]
    except json.JSONDecodeError as exc:
        return [f"{path}: not valid JSON ({exc})"]
    validator = jsonschema.Draft202012Validator(load_schema())
    problems = [
        f"{path}: {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in sorted(validator.iter_errors(card), key=lambda e: list(map(str, e.absolute_path)))
    ]
    if problems:
        return problems
    name = model_name or Path(path).parent.name
    problems += [f"{path}: {key} is {card[key]!r}, expected the folder name {name!r}"
                 for key in ("id", "name") if card[key] != name]
    known = set(segment_ids())
    for output in card["summary"]["outputs"]:
        problems += [f"{path}: output class {c!r} is not a segment id of mhubio.segdb"
                     for c in output.get("classes", []) if c not in known]
    return problems
