"""The commands a person runs about their own data: `remember on|off` and `me` (opt-in memory),
`forget-me` (with a confirm button only they can press) and `my-data` (a JSON export), each
against the CommandHost and the service in bot/privacy/people.py. Every reply is ephemeral."""

from __future__ import annotations

from bot.commands.language import reply_language
from bot.commands.registry import REGISTRY, CommandHost, Param
from bot.messages import say
from bot.ports import Channel
from bot.privacy.people import People, export_parts
from bot.types import ActionKind, Button, ButtonStyle, Command, Reply


def _people(host: CommandHost) -> People:
    return People(settings=host.settings, store=host.store, clock=host.clock)


@REGISTRY.command(
    "remember",
    "Turn memory on or off: with it on, the bot keeps a few facts about you (your language, "
    "your plan if you said it, one line per ticket) to answer you better. Off deletes them.",
    params=(Param(name="setting", help="on or off", choices=("on", "off")),),
)
async def _remember(host: CommandHost, command: Command, args: dict[str, str], channel: Channel) -> str:
    people = _people(host)
    on = args["setting"].lower() == "on"
    await people.set_enabled(command.conversation.platform, command.invoker.id, on)
    return say("memory_on" if on else "memory_off", await reply_language(host, command))


@REGISTRY.command("me", "Show what the bot remembers about you, if memory is on.")
async def _me(host: CommandHost, command: Command, args: dict[str, str], channel: Channel) -> str:
    people = _people(host)
    facts = await people.recall(command.conversation.platform, command.invoker.id)
    language = await reply_language(host, command)
    if facts is None:
        return say("memory_is_off", language)
    if not facts:
        return say("memory_empty", language)
    return say("memory_shown", language) + "\n" + "\n".join(f"- {f.kind}: {f.text}" for f in facts)


@REGISTRY.command(
    "forget-me",
    "Delete everything the bot keeps about you: your messages, questions, memory and feedback "
    "(asks you to confirm first).",
)
async def _forget_me(host: CommandHost, command: Command, args: dict[str, str], channel: Channel) -> None:
    language = await reply_language(host, command)
    # the button carries the person's id: the press is checked against who pressed it
    value = command.invoker.id
    await channel.send(
        Reply(
            conversation=command.conversation,
            text=say("forget_confirm", language),
            buttons=(
                Button(
                    action=ActionKind.FORGET_ME_CONFIRM,
                    label=say("button_forget", language),
                    value=value,
                    style=ButtonStyle.DANGER,
                ),
                Button(action=ActionKind.FORGET_ME_CANCEL, label=say("button_cancel", language), value=value),
            ),
            ephemeral_to=command.invoker.id,
            language=language,
        )
    )


@REGISTRY.command("my-data", "Send you, and only you, everything the bot keeps about you, as JSON.")
async def _my_data(host: CommandHost, command: Command, args: dict[str, str], channel: Channel) -> None:
    people = _people(host)
    language = await reply_language(host, command)
    data = await people.export(command.conversation.platform, command.invoker.id)
    # the Channel port posts messages, not files: the JSON goes in ephemeral parts, the last
    # saying whether that is all. A line of its own would be one post more than Slack's
    # response URL takes (five): where the bot cannot post itself, "cut short" was lost
    parts, cut = export_parts(data)
    for number, part in enumerate(parts, start=1):
        text = f"{say('export_part', language, n=number, total=len(parts))}\n```json\n{part}\n```"
        if number == len(parts):
            text += "\n" + say("export_cut" if cut else "export_done", language)
        await channel.send(
            Reply(
                conversation=command.conversation,
                text=text,
                ephemeral_to=command.invoker.id,
                language=language,
            )
        )
