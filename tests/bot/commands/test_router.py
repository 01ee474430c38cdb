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


async def test_an_unknown_or_refused_command_is_told_in_the_invokers_language(
    make_runtime: Callable[..., Runtime],
) -> None:
    """ "There is no command" and "is for staff only" were English whoever typed them: to a
    Korean app, and to "/support 환불은 어떻게 받나요", a question typed where a command goes."""
    rt = make_runtime()
    channel = ConsoleChannel(io.StringIO())
    await rt.bot.on_command(replace(command("환불은", "어떻게 받나요", ASKER), locale="en-US"), channel)
    assert channel.posted[-1][1].text == say("no_command", "ko", named="환불은", prefix="/support")
    assert "`/support ask`" in channel.posted[-1][1].text
    await rt.bot.on_command(replace(command("reindx", "", ASKER), locale="ko"), channel)
    assert channel.posted[-1][1].text.startswith("`reindx` 명령은 없습니다.")
    await rt.bot.on_command(command("reindx", "", ASKER), channel)
    assert channel.posted[-1][1].text.startswith("There is no command `reindx`. Try `/support help`")
    await rt.bot.on_command(replace(command("tickets", "", ASKER), locale="ko"), channel)
    assert (
        channel.posted[-1][1].text
        == "`/support tickets`는 지원팀만 쓸 수 있습니다. 필요하시면 관리자에게 요청해 주세요."
    )
    await rt.bot.on_command(command("reindex", "", ASKER), channel)
    assert channel.posted[-1][1].text == "`/support reindex` is for admin only. Ask an admin if you need it."
