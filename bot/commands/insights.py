"""The proactive-support commands: `incident` (known-issue notices) and `gaps` (the
questions the documentation does not answer yet), each against the CommandHost."""

from __future__ import annotations

from bot import policy
from bot.commands.registry import REGISTRY, Access, CommandHost, Param, UsageError
from bot.escalation import Drafted, age, draft_from
from bot.ports import Channel
from bot.privacy.redaction import quoted
from bot.store import StateStore
from bot.store.gaps import GapKind
from bot.store.incidents import IncidentRecord, IncidentStatus
from bot.text import parse_number, single_line
from bot.types import Command

INCIDENT_TEXT_LIMIT = 500  # characters: the notice is read at the top of every matching answer


@REGISTRY.command(
    "incident",
    "Known issues: open one (answers to similar questions then say so), close it (every thread "
    "that saw the notice is told), or list them.",
    access=Access.STAFF,
    params=(
        Param(name="action", help="open, close or list", choices=("open", "close", "list")),
        Param(
            name="text",
            help="for open, what askers should know; for close, [#N] and what changed",
            required=False,
        ),
    ),
)
async def _incident(host: CommandHost, command: Command, args: dict[str, str], channel: Channel) -> str:
    action = args["action"].lower()
    platform, workspace = command.conversation.platform, command.conversation.workspace
    text = args.get("text", "").strip()
    if action == "list":
        return await _list(host, platform, workspace)
    if action == "open":
        if not text:
            raise UsageError(
                "`incident open` needs the text askers will see, e.g. `incident open Logins fail since 10:00; we are on it`"
            )
        if len(text) > INCIDENT_TEXT_LIMIT:
            raise UsageError(f"The text is {len(text):,} characters; keep it under {INCIDENT_TEXT_LIMIT}.")
        incident, _ = await host.insights.incidents.open(platform, text, command.invoker, workspace=workspace)
        return (
            f"Incident #{incident.id} is open. Answers to questions like it now start with: {text}\n"
            f"Close it with `{host.commands.prefix(platform)} incident close #{incident.id} <what changed>`."
        )
    chosen, closing_text = await _which(host, platform, workspace, text)
    if chosen is None:
        return "There is no open incident to close."
    told = await host.insights.incidents.close(chosen, command.invoker, closing_text, channel)
    if told is None:
        return f"Incident #{chosen.id} was already closed."
    return f"Incident #{chosen.id} closed; {told} thread(s) that saw the notice were told."


async def _which(
    host: CommandHost, platform: str, workspace: str, text: str
) -> tuple[IncidentRecord | None, str]:
    """The incident `close` means: `#N` first, else the only open one (of this workspace)."""
    first, _, rest = text.partition(" ")
    meant_a_number = first.startswith("#") or first.isdigit()
    number = parse_number(first) if meant_a_number else None
    if meant_a_number and number is None:
        # `#0`, `#-1`, `#abc`: a number was meant, so never the only open one instead
        raise UsageError(
            f"`{single_line(first, 20)}` is not an incident number: say `incident close #N` with N from `incident list`."
        )
    if number is not None:
        incident = await host.store.run(StateStore.incident, number)
        if incident is None or incident.platform != platform or incident.workspace not in (None, workspace):
            raise UsageError(f"There is no incident #{number}.")
        return incident, rest.strip()
    open_now = await host.store.run(StateStore.incidents, platform, IncidentStatus.OPEN, 20, workspace)
    if len(open_now) > 1:
        numbers = ", ".join(f"#{i.id}" for i in open_now)
        raise UsageError(
            f"Several incidents are open ({numbers}): say which, e.g. `incident close #{open_now[0].id} fixed`"
        )
    return (open_now[0] if open_now else None), text


async def _list(host: CommandHost, platform: str, workspace: str) -> str:
    incidents = await host.store.run(StateStore.incidents, platform, None, 10, workspace)
    if not incidents:
        return "No incidents yet."
    now = host.clock.now()
    lines = ["Incidents (newest first):"]
    for i in incidents:
        notices = len(await host.store.run(StateStore.notices_to_close, i.id))
        state = (
            f"open for {age(now - i.opened_at)}, {notices} thread(s) shown the notice"
            if i.status == IncidentStatus.OPEN
            else f"closed {age(now - i.closed_at)} ago"
            if i.closed_at
            else "closed"
        )
        lines.append(f"- #{i.id} [{state}] {single_line(i.text or '(from a burst alert)', 100)}")
    return "\n".join(lines)


@REGISTRY.command(
    "gaps",
    "Questions the documentation does not answer yet, grouped: list them, show one, dismiss one, "
    "or start a knowledge draft from what staff answered.",
    access=Access.STAFF,
    params=(
        Param(
            name="action",
            help="list, show, dismiss or draft",
            required=False,
            choices=("list", "show", "dismiss", "draft"),
        ),
        Param(name="gap", help="the gap number", required=False),
    ),
)
async def _gaps(host: CommandHost, command: Command, args: dict[str, str], channel: Channel) -> str:
    action = (args.get("action") or "list").lower()
    platform = command.conversation.platform
    gaps = host.insights.gaps
    if action == "list":
        open_gaps = await gaps.refresh(platform, policy.listed_from(command.conversation))
        if not open_gaps:
            return "No open knowledge gaps: every recent question was answered, or its gap was dealt with."
        lines = ["Open knowledge gaps (most asked first):"]
        for shown in open_gaps[:10]:
            what = "unanswered" if shown.kind == GapKind.HARD else "answered, did not help"
            lines.append(f"- #{shown.id} ({shown.asks}x, {what}) {quoted(shown.representative, 100)}")
        prefix = host.commands.prefix(platform)
        lines.append(f"`{prefix} gaps show N` lists a gap's questions; `{prefix} gaps dismiss N` hides it.")
        return "\n".join(lines)
    if not args.get("gap"):
        raise UsageError(f"`gaps {action}` needs the gap number, e.g. `gaps {action} 3`")
    number = parse_number(args["gap"])
    gap = None if number is None else await host.store.run(StateStore.gap, number)
    listed = policy.listed_from(command.conversation)
    if gap is None or gap.platform != platform or gap.workspace not in listed:
        return f"There is no gap {single_line(args['gap'], 20)}."  # another workspace's is not shown
    if action == "show":
        questions = await host.store.run(StateStore.gap_questions, gap.id, 10)
        now = host.clock.now()
        lines = [
            f"Gap #{gap.id} ({gap.status}, {gap.kind}, asked {gap.asks}x): {quoted(gap.representative, 200)}"
        ]
        lines += [f"- {age(now - at)} ago: {quoted(q, 150)}" for q, at in questions]
        return "\n".join(lines)
    if action == "dismiss":
        if not await gaps.dismiss(gap.id):
            return f"Gap #{gap.id} was already dismissed."
        reopen = host.settings.insights.gap_reopen_asks
        return f"Gap #{gap.id} dismissed. It shows again if it is asked {reopen} more time(s)."
    return await draft_from_gap(host, gap.id)


# pressed again, "draft" never replaces what an admin saved with the ticket's raw replies
_DRAFTED = {
    Drafted.NEW: "Draft #{draft} started from ticket #{ticket}, where staff answered this gap.",
    Drafted.REFRESHED: "Draft #{draft} from ticket #{ticket} now also holds what staff wrote there since.",
    Drafted.UNCHANGED: "Draft #{draft} from ticket #{ticket} already exists, with what staff answered there.",
    Drafted.KEPT: "Draft #{draft} from ticket #{ticket} already exists and was edited by hand: "
    "it is left as it was saved.",
}


async def draft_from_gap(host: CommandHost, gap_id: int) -> str:
    """A gap's draft is what staff wrote when they answered its questions by hand (the
    learning loop's draft of that ticket); with no such answer there is nothing to draft."""
    for ticket_id in await host.store.run(StateStore.gap_tickets, gap_id):
        ticket = await host.store.run(StateStore.ticket, ticket_id)
        if ticket is None:
            continue
        drafting = await draft_from(host.store, ticket, host.clock.now())
        if drafting is not None:
            said = _DRAFTED[drafting.drafted].format(draft=drafting.draft_id, ticket=ticket.id)
            prefix = host.commands.prefix(ticket.conversation.platform)
            return f"{said} Review it with `{prefix} learn show {drafting.draft_id}`."
    return (
        f"Nobody has answered gap #{gap_id}'s questions in a ticket yet, so there is nothing to draft from. "
        "Answer one of its tickets (or add the page to the knowledge folder and reindex)."
    )
