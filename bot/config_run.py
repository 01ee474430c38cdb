"""The `[run]` section: how `supportbot run`'s process runs (knowledge/configuration.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from bot.config_rules import Check, Section

CpuSetting = int | Literal["auto", "off"]  # bot/cpu_affinity.py


def _cpu(value: object) -> object:
    if value in ("auto", "off"):
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError('must be "auto", "off" or a CPU number (0, 1, ...)')
    return value


@dataclass(frozen=True, kw_only=True)
class RunSettings(Section):
    # the CPU the bot's Python threads share (bot/cpu_affinity.py): "auto" picks one and moves
    # off it when other programs load it; a number pins there; "off" lets them float
    cpu: Annotated[CpuSetting, Check(before=_cpu)] = "auto"
