"""The command router (bot/commands/router.py): what the invoker is told when a command fails."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import replace

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.core import Outcome
from bot.messages import say
from bot.types import Posted, Reply, ReplyKind
from tests.bot.test_escalation import ASKER, command


class RefusesButtons(ConsoleChannel):
    """A platform refusing every message that carries buttons (a broken block, say)."""

    async def send(self, reply: Reply) -> Posted:
        if reply.buttons:
            raise RuntimeError("invalid_blocks")
        return await super().send(reply)


async def test_a_failed_command_is_apologised_for_in_the_invokers_language(
    make_runtime: Callable[..., Runtime],
) -> None:
    """`/support forget-me` from someone whose Discord app is in Korean, when its confirmation
    could not be posted: the confirmation is Korean, the apology for its failure was English."""
    rt = make_runtime()
    channel = RefusesButtons(io.StringIO())
    korean_app = replace(command("forget-me", "", ASKER), locale="ko")

    assert await rt.bot.on_command(korean_app, channel) == Outcome.FAILED

    [apology] = [reply for _, reply in channel.posted]
    assert apology.kind == ReplyKind.ERROR and apology.ephemeral_to == ASKER.id
    assert apology.text == say("error_no_ticket", "ko")
