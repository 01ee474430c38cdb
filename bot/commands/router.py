"""The command router: one gate in front of every command, whatever the platform.

It finds the command, checks the invoker's rights (a filter in front of dispatch: handlers
never check rights themselves), parses the arguments, runs the handler against the
CommandHost and tells the invoker the result, ephemerally unless the command says otherwise.
"""

from __future__ import annotations

import logging

from bot import policy
from bot.commands.language import reply_language
from bot.commands.registry import REGISTRY, CommandHost, CommandSpec, UsageError, may_run
from bot.config import Settings
from bot.messages import say
from bot.ports import Channel
from bot.text import scrub_event, single_line
from bot.types import Command, Outcome, Reply, ReplyKind

log = logging.getLogger(__name__)


class CommandRouter:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def prefix(self, platform: str, spec: CommandSpec | None = None) -> str:
        return self.settings.command_prefix(platform, admin=spec is not None and spec.admin_only)

    def may_run(self, spec: CommandSpec, command: Command) -> bool:
        platform, workspace = command.conversation.platform, command.conversation.workspace
        staff = policy.is_staff(command.invoker, platform, self.settings, workspace) or (
            spec.routed
            and policy.is_routed_staff_anywhere(command.invoker, self.settings, platform, workspace)
        )
        return may_run(
            spec,
            staff=staff,
            admin=policy.is_admin(command.invoker, platform, self.settings, workspace),
        )

    async def on_command(self, host: CommandHost, command: Command, channel: Channel) -> Outcome:
        command = scrub_event(command)  # text the store, the logs and the platform can all encode
        spec = REGISTRY.get(command.name)
        prefix = self.prefix(command.conversation.platform)
        context = {"platform": command.conversation.platform, "channel": command.conversation.channel}
        if spec is None:
            # echoed back: one short line, so a pasted essay does not come back whole
            named = single_line(command.name, 40)
            # what was typed is theirs: Korean words there say the language ("/support 환불은")
            typed = f"{command.name} {command.args}"
            language = "ko" if policy.detect_language(typed) == "ko" else await _language(host, command)
            await _tell(command, channel, say("no_command", language, named=named, prefix=prefix))
            return Outcome.REFUSED
        if not self.may_run(spec, command):
            language = await _language(host, command)
            await _tell(
                command,
                channel,
                say(f"command_for_{spec.access.value}", language, command=f"{prefix} {spec.name}"),
            )
            log.info("command refused", extra={**context, "command": spec.name})
            return Outcome.REFUSED
        try:
            args = REGISTRY.parse_args(spec, command.args, command.options)
            text = await spec.handler(host, command, args, channel)
        except UsageError as exc:
            await _tell(command, channel, str(exc))
            return Outcome.REFUSED
        except Exception:
            log.exception("command failed", extra={**context, "command": spec.name})
            await _tell(
                command, channel, say("error_no_ticket", await _language(host, command)), kind=ReplyKind.ERROR
            )
            return Outcome.FAILED
        if text is not None:
            await _tell(command, channel, text, ephemeral=spec.ephemeral)
        return Outcome.ANSWERED


async def _language(host: CommandHost, command: Command) -> str:
    """The language to apologise for a failed command in; English when the store that tells
    it is what failed."""
    try:
        return await reply_language(host, command)
    except Exception:
        log.warning("could not tell the language of a failed command", exc_info=True)
        return "en"


async def _tell(
    command: Command, channel: Channel, text: str, *, ephemeral: bool = True, kind: ReplyKind = ReplyKind.INFO
) -> None:
    await channel.send(
        Reply(
            conversation=command.conversation,
            text=text,
            kind=kind,
            ephemeral_to=command.invoker.id if ephemeral else None,
        )
    )
