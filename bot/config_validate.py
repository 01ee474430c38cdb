"""Checking settings that came from a file or a workspace's overrides:
pydantic reads the sections' annotations (bot/config_rules.py) and builds a validator per
type, on first use. Imported only when there is something to check, so a start with nothing
configured never loads pydantic.

A table is checked key by key, each with the validator of that key's type, so a file of two
sections builds the validators of those two and not of the twenty it leaves out (building one
costs about as much as checking a thousand values)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar, get_type_hints

from pydantic import TypeAdapter, ValidationError

T = TypeVar("T")

# pydantic's own name for a key a dataclass does not have, used for the top level's too
UNKNOWN_KEY = "unexpected_keyword_argument"

_VALIDATORS: dict[object, TypeAdapter[Any]] = {}
_FIELDS: dict[type[Any], dict[str, object]] = {}


class SettingsInvalid(ValueError):
    """What was wrong with the values given, one entry per problem, each with its `loc`
    (the path of keys), `type`, `msg` and `input`."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))


def validate(model: type[T], data: Mapping[str, Any]) -> T:
    """`data` (a parsed table: strings, numbers, lists, tables) as a checked `model`, a
    settings dataclass. Every problem is reported, not only the first."""
    kinds = _field_kinds(model)
    values: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for key, kind in kinds.items():  # in the fields' order, then the keys that are none
        if key in data:
            try:
                values[key] = _validator(kind).validate_python(data[key])
            except ValidationError as exc:
                errors += [
                    _in_file_terms({**e, "loc": (key, *e["loc"])}) for e in exc.errors(include_url=False)
                ]
    errors += [
        {"loc": (key,), "type": UNKNOWN_KEY, "msg": _NOT_A_SETTING, "input": value}
        for key, value in data.items()
        if key not in kinds
    ]
    if errors:
        raise SettingsInvalid(errors)
    try:
        return model(**values)
    except ValueError as exc:  # a rule spanning fields (a section's __post_init__)
        raise SettingsInvalid(
            [{"loc": (), "type": "value_error", "msg": f"Value error, {exc}", "input": dict(data)}]
        ) from None


_NOT_A_SETTING = "Extra inputs are not permitted"


def _in_file_terms(error: dict[str, Any]) -> dict[str, Any]:
    """pydantic words a dataclass's problems as a call's ("unexpected keyword argument"); the
    person reading them wrote a table in a file."""
    if error["type"] == UNKNOWN_KEY:
        return {**error, "msg": _NOT_A_SETTING}
    if error["type"] == "dataclass_type":
        name = error.get("ctx", {}).get("class_name", "")
        return {**error, "msg": f"Input should be a valid dictionary or instance of {name}"}
    return error


def _field_kinds(model: type[Any]) -> dict[str, object]:
    kinds = _FIELDS.get(model)
    if kinds is None:
        hints = get_type_hints(model, include_extras=True)  # with each field's rules
        kinds = _FIELDS[model] = {f.name: hints[f.name] for f in dataclasses.fields(model) if f.init}
    return kinds


def _validator(kind: object) -> TypeAdapter[Any]:
    validator = _VALIDATORS.get(kind)
    if validator is None:
        validator = _VALIDATORS[kind] = TypeAdapter(kind)  # type: ignore[arg-type]  # a field's type
    return validator
