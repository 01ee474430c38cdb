"""The vocabulary the settings are written in, without the validator: sections are frozen
dataclasses, and what a value must satisfy rides on its type as plain data.

    workers: Annotated[int, Bounds(ge=1, le=256)] = 8
    timezone: Annotated[str, Check(_zone)] = "UTC"

A section's defaults are valid by construction, so settings nobody configured (the usual cold
`supportbot ask`: no supportbot.toml) are built by calling the classes and never load
pydantic, about a quarter of that command's start (bench/ask_cold.py); tokens from the
environment are wrapped and checked by bot/config.py itself. A file's tables to check go
through bot/config_validate.py, where pydantic reads these same annotations:
each marker here tells it, through `__get_pydantic_core_schema__`, what it adds to the type's
own check. Rules spanning fields live in a section's `__post_init__`, so they hold for a
section built in code as well as for one read from a file. Other values built in code are
trusted (the code's types say what they are); values from outside go through `validate`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import Field, dataclass, fields
from typing import Any, ClassVar


class Section:
    """The base of every settings section: frozen dataclasses (each subclass is declared with
    `@dataclass(frozen=True, kw_only=True)`) whose file tables may hold only their own keys."""

    __pydantic_config__: ClassVar[dict[str, Any]] = {"extra": "forbid"}
    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]  # what @dataclass gives each subclass


@dataclass(frozen=True)
class Bounds:
    """A number's range: at least `ge`, above `gt`, at most `le` (pydantic's own messages)."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        schema = handler(source)
        number = schema  # under the checks and the "or None" that wrap it
        while number.get("type") in ("function-before", "function-after", "nullable", "default"):
            number = number["schema"]
        if number.get("type") not in ("int", "float"):
            raise TypeError(f"Bounds applies to int or float settings, not {source!r}")
        limits = {"ge": self.ge, "gt": self.gt, "le": self.le}
        number.update({key: value for key, value in limits.items() if value is not None})
        return schema


@dataclass(frozen=True)
class Check:
    """A value's own rule: `after` runs on the typed value and returns it (normalised),
    `before` on the raw one, ahead of the type's check. Either raises ValueError with what
    to write instead."""

    after: Callable[[Any], Any] | None = None
    before: Callable[[Any], Any] | None = None

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        schema = handler(source)
        if self.after is not None:
            schema = core_schema.no_info_after_validator_function(self.after, schema)
        if self.before is not None:
            schema = core_schema.no_info_before_validator_function(self.before, schema)
        return schema


class Secret:
    """A token, key or password: its value only through `get_secret_value()`, never in
    `repr()`, `str()` or a log line."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        # a Secret passes as its text, so a section re-checked with its own values keeps them
        as_text = core_schema.no_info_after_validator_function(cls, core_schema.str_schema())
        return core_schema.no_info_before_validator_function(_unwrap, as_text)


def keep_secrets(section: Any) -> None:
    """In a section's `__post_init__`: a secret given as plain text (a section built in code)
    is wrapped, so it shows in no `repr()` whichever way the section was made."""
    for field in fields(section):
        value = getattr(section, field.name)
        # the annotation as written (a string: these modules postpone annotations)
        if isinstance(value, str) and re.search(r"\bSecret\b", str(field.type)):
            object.__setattr__(section, field.name, Secret(value))  # frozen: set once, while being built


def _unwrap(value: object) -> object:
    return value.get_secret_value() if isinstance(value, Secret) else value
