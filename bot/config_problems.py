"""A settings file's problems in the words of the file: each names its key, says what is wrong
and, for a key that is no setting, the closest one that is. Used only when a file fails its
check (bot/config.py), so a start with a good file or none never loads it."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from typing import Any, TypeGuard, get_args, get_type_hints

from bot.config_platforms import ChannelSettings
from bot.config_rules import Section


def problem_text(error: Mapping[str, Any], model: type[Section]) -> str:
    """One problem (an entry of bot/config_validate.py's SettingsInvalid) of a file read as `model`."""
    loc = [str(part) for part in error["loc"]]
    key = ".".join(loc)
    if error["type"] == "unexpected_keyword_argument":  # bot/config_validate.py UNKNOWN_KEY
        known = _known_keys(model, loc[:-1])
        hint = difflib.get_close_matches(loc[-1], known, n=1)
        where = f"[{'.'.join(loc[:-1])}]" if len(loc) > 1 else "the top level"
        suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
        return f"'{loc[-1]}' in {where} is not a setting{suggestion}"
    value = error.get("input")
    if isinstance(value, str) and "://" in value:
        from bot.store.urls import redact_url  # only an address needs it

        value = redact_url(value)  # a database URL's password never reaches the terminal or a log
    elif "://" in repr(value):
        return f"{key}: {error['msg']}"  # a list holding an address may hold its password too
    shown = f" (got {value!r})" if not isinstance(value, dict) else ""
    return f"{key}: {error['msg']}{shown}"


def _known_keys(model: type[Section], path: list[str]) -> list[str]:
    current: type[Section] = model
    keyed = False  # the previous part was a dict of sections: this part is one of its keys
    for part in path:
        if keyed:
            keyed = False
            continue
        annotation = get_type_hints(current).get(part)
        if _is_section(annotation):
            current = annotation
            continue
        inner = (get_args(annotation) or (None,))[-1]
        if _is_section(inner):
            current, keyed = inner, True  # [audiences.NAME], [slack.channels.ID]: that section's keys
        else:
            current = ChannelSettings  # a workspace's overrides hold channels' keys and the like
    return [f.name for f in fields(current)]


def _is_section(kind: object) -> TypeGuard[type[Section]]:
    return isinstance(kind, type) and issubclass(kind, Section) and is_dataclass(kind)
