"""One registry of slash commands, shared by every platform.

Each command has a name, parameters, help text and who may run it; Slack builds its
`/support` text parsing from it, Discord its subcommands, the console its `/support ...`
lines, and `help` and the documentation tests read it too. Handlers receive the
CommandHost and return what to say; the router decides where it goes.

CommandHost is a Protocol, so the commands depend on the services they use (the store,
the knowledge service, the answer pipeline, escalations, the router for prefixes and
rights) and not on SupportBot, which in turn imports the router: no circle. It lives
here, with the handler type that needs it, rather than in bot/ports/, because its
members are the core's own services, which themselves import ports.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.answering.pipeline import AnswerPipeline
from bot.cluster import SharedKnowledge
from bot.config import Settings
from bot.escalation import Escalations
from bot.insights.service import Insights
from bot.ports import Channel, Clock
from bot.retrieval.service import KnowledgeService
from bot.store import AsyncStore
from bot.text import single_line
from bot.types import Command, Outcome


class Access(StrEnum):
    EVERYONE = "everyone"
    STAFF = "staff"
    ADMIN = "admin"


@dataclass(frozen=True, kw_only=True)
class Param:
    name: str
    help: str
    required: bool = True
    choices: tuple[str, ...] = ()
    # names a person: a platform passes a mention through as its id markup (`<@U123>`), not
    # the name people read, so the handler can tell whom it means
    person: bool = False


Handler = Callable[["CommandHost", Command, dict[str, str], Channel], Awaitable[str | None]]


@dataclass(frozen=True, kw_only=True)
class CommandSpec:
    name: str
    help: str
    access: Access
    params: tuple[Param, ...]
    handler: Handler
    ephemeral: bool = True  # the reply is shown only to the person who ran it
    # a staff command about one ticket that the people tickets are routed to (a channel's or a
    # tag's staff, bot/policy.is_routed_staff) may run too: the handler checks the ticket
    routed: bool = False

    @property
    def names_people(self) -> bool:
        return any(param.person for param in self.params)

    @property
    def admin_only(self) -> bool:
        return self.access == Access.ADMIN

    def usage(self, prefix: str = "/support") -> str:
        parts = [prefix, self.name]
        for param in self.params:
            shown = "|".join(param.choices) if param.choices else param.name
            parts.append(f"<{shown}>" if param.required else f"[{shown}]")
        return " ".join(parts)


class UsageError(Exception):
    pass


class CommandRegistry:
    def __init__(self) -> None:
        self._specs: dict[str, CommandSpec] = {}

    def command(
        self,
        name: str,
        help: str,
        *,
        access: Access = Access.EVERYONE,
        params: tuple[Param, ...] = (),
        ephemeral: bool = True,
        routed: bool = False,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self._specs[name] = CommandSpec(
                name=name,
                help=help,
                access=access,
                params=params,
                handler=handler,
                ephemeral=ephemeral,
                routed=routed,
            )
            return handler

        return register

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._specs.values())

    def get(self, name: str) -> CommandSpec | None:
        return self._specs.get(name.lower())

    def parse_args(
        self, spec: CommandSpec, text: str, options: tuple[tuple[str, str], ...] | None = None
    ) -> dict[str, str]:
        """The parameters' values: the platform's named `options` as given when it has them,
        else the typed text split over the parameters (the last one takes the rest)."""
        values: dict[str, str] = {}
        if options is not None:
            known = {param.name for param in spec.params}
            values = {name: value.strip() for name, value in options if name in known}
        else:
            words = text.split(maxsplit=max(len(spec.params) - 1, 0)) if spec.params else []
            if not spec.params and text.strip():
                raise UsageError(f"`{spec.name}` takes no arguments. Usage: {spec.usage()}")
            for param, word in zip(spec.params, words, strict=False):
                values[param.name] = word.strip()
        for param in spec.params:
            value = values.get(param.name, "")
            if param.required and not value:
                raise UsageError(f"`{spec.name}` needs {param.name}: {param.help}. Usage: {spec.usage()}")
            if value and param.choices and value.lower() not in param.choices:
                raise UsageError(
                    f"{param.name} must be one of {', '.join(param.choices)} "
                    f"(got {single_line(value, 40)!r}). Usage: {spec.usage()}"
                )
        return values


REGISTRY = CommandRegistry()


def may_run(spec: CommandSpec, *, staff: bool, admin: bool) -> bool:
    if spec.access == Access.ADMIN:
        return admin
    if spec.access == Access.STAFF:
        return staff or admin
    return True


class Rights(Protocol):
    """Who may run what, and how it is typed (the router provides it)."""

    def prefix(self, platform: str, spec: CommandSpec | None = None) -> str: ...

    def may_run(self, spec: CommandSpec, command: Command) -> bool: ...


class CommandHost(Protocol):
    # read-only members: the host may hold a subtype (the router for `commands`)
    @property
    def settings(self) -> Settings: ...

    @property
    def store(self) -> AsyncStore: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def knowledge(self) -> KnowledgeService: ...

    @property
    def shared_knowledge(self) -> SharedKnowledge: ...

    @property
    def answers(self) -> AnswerPipeline: ...

    @property
    def escalations(self) -> Escalations: ...

    @property
    def insights(self) -> Insights: ...

    @property
    def commands(self) -> Rights: ...

    async def answer_command_question(self, command: Command, question: str, channel: Channel) -> Outcome: ...
