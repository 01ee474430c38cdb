"""Slash commands: the registry (what exists), the handlers (what they do), the router (who may run them).

Importing the package registers every handler, so `REGISTRY` is complete for the adapters
that build their platform's commands from it.
"""

from bot.commands import handlers as _handlers  # noqa: F401 - registers the commands
from bot.commands import insights as _insights  # noqa: F401 - registers the commands
from bot.commands import privacy as _privacy  # noqa: F401 - registers the commands
from bot.commands.registry import REGISTRY, Access, CommandSpec, Param, UsageError, may_run
from bot.commands.router import CommandRouter

__all__ = ["REGISTRY", "Access", "CommandRouter", "CommandSpec", "Param", "UsageError", "may_run"]
