"""The commands themselves: what `/support help`, `ask`, `status`, `tickets`, `claim`,
`resolve`, `assign`, `learn`, `reindex` and `stats` do, each against the CommandHost."""

from __future__ import annotations

import logging
from datetime import timedelta
from enum import StrEnum

from bot import policy
from bot.channel_types import Platform
from bot.cluster import describe_workers
from bot.commands.language import reply_language
from bot.commands.registry import REGISTRY, Access, CommandHost, Param, UsageError
from bot.escalation import ticket_line
from bot.escalation.learning import write_entry
from bot.insights.collect import collect
from bot.insights.metrics import Definitions, Period, Scope
from bot.insights.report import chat_summary
from bot.messages import say
from bot.ports import Channel
from bot.privacy.redaction import quoted, quoted_block
from bot.store import StateStore
from bot.store.queue import Reach, TicketQuery
from bot.text import TypedPerson, parse_number, parse_person, single_line
from bot.types import Author, Command, Draft, TicketStatus

log = logging.getLogger(__name__)

TITLE_LIMIT = 200  # characters in a knowledge draft's title
NOTE_LIMIT = 2000  # characters in a resolution note


@REGISTRY.command(
    "help",
    "List the commands you can use, or explain one.",
    params=(Param(name="command", help="a command name", required=False),),
)
async def _help(host: CommandHost, command: Command, args: dict[str, str], channel: Channel) -> str:
    prefix = host.commands.prefix(command.conversation.platform)
    wanted = args.get("command")
    if wanted:
        spec = REGISTRY.get(wanted)
        if spec is None:
            # echoed back: one short line, so a pasted essay does not come back whole
            return f"There is no command `{single_line(wanted, 40)}`. Try `{prefix} help`."
        lines = [f"`{spec.usage(host.commands.prefix(command.conversation.platform, spec))}`: {spec.help}"]
        lines += [f"  - `{p.name}`: {p.help}" for p in spec.params]
        if spec.access != Access.EVERYONE:
            lines.append(f"  (for {spec.access} only)")
        return "\n".join(lines)
    allowed = [spec for spec in REGISTRY if host.commands.may_run(spec, command)]
    platform = command.conversation.platform
    return "Commands:\n" + "\n".join(
        f"- `{spec.usage(host.commands.prefix(platform, spec))}`: {spec.help}" for spec in allowed
    )


@REGISTRY.command(
    "ask",
    "Ask a question; the answer is posted in the channel with its sources.",
    params=(Param(name="question", help="what you want to know"),),
    ephemeral=False,
)
async def _ask(host: CommandHost, command: Command, args: dict[str, str], channel: Channel) -> str | None:
    await host.answer_command_question(command, args["question"], channel)
    return None


@REGISTRY.command("status", "Show what the bot knows, how it answers, and the open tickets.")
async def _status(host: CommandHost, command: Command, args: dict[str, str], channel: Channel) -> str:
    summary = await host.knowledge.summary()
    now = host.clock.now()
    where = command.conversation  # the workspace's own counts: rights are per workspace
    stats = await host.store.run(StateStore.stats, now - timedelta(days=1), where.platform, where.workspace)
    lines = [
        f"Knowledge: {summary.files} files, {summary.chunks} passages from `{summary.folder.name}`"
        + (f" ({summary.errors} files could not be read; see `supportbot index`)" if summary.errors else ""),
        f"Answers: {host.answers.description}; confidence threshold {host.settings.answer.confidence_threshold:.2f}",
        f"Last 24 h: {stats.questions} questions, {stats.answered} answered, {stats.abstained} handed to people; "
        f"{stats.helpful} helpful / {stats.not_helpful} not helpful",
        f"Tickets: {stats.tickets_open} open, {stats.tickets_claimed} claimed",
    ]
    trouble = host.answers.health.trouble
    if trouble is not None:  # this process's: each worker keeps its own run
        lines.insert(2, trouble.describe())
    if host.store.store.shared:  # several processes may share a PostgreSQL database: which are up
        lines.append(describe_workers(await host.store.run(StateStore.live_worker_records, now)))
    usage = await host.answers.usage_today()
    if usage:
        lines.append(usage)
    return "\n".join(lines)


class Which(StrEnum):
    """Which tickets `/support tickets` lists."""

    OPEN = "open"  # open or claimed, anyone's
    MINE = "mine"  # open or claimed, the invoker's
    ALL = "all"  # every status


SHOWN_TICKETS = 50  # tickets one reply lists: a chat message stays readable, the count says the rest
# the messages.py keys of a list's replies: (none, header, header of a list cut short)
_TICKETS_SAID = {
    Which.OPEN: ("tickets_none_open", "tickets_open", "tickets_open_cut"),
    Which.MINE: ("tickets_none_mine", "tickets_mine", "tickets_mine_cut"),
    Which.ALL: ("tickets_none_all", "tickets_all", "tickets_all_cut"),
}


@REGISTRY.command(
    "tickets",
    "List tickets: open (the default), mine, or all.",
    access=Access.STAFF,
    params=(
        Param(name="which", help="open, mine or all", required=False, choices=tuple(w.value for w in Which)),
    ),
)
async def _tickets(host: CommandHost, command: Command, args: dict[str, str], channel: Channel) -> str:
    which = Which(args.get("which", "").lower() or Which.OPEN)
    now = host.clock.now()
    # counted and cut in SQL, so the count is every one there is however many are open; read
    # on the reports' lane, as the dashboard's queue is (`all` reads the whole history)
    page = await host.store.report(
        StateStore.ticket_queue, _tickets_query(which, command), now, SHOWN_TICKETS
    )
    none, header, cut = _TICKETS_SAID[which]
    language = await reply_language(host, command)
    if not page.tickets:
        return say(none, language)
    shown = len(page.tickets)
    lines = [say(cut if shown < page.total else header, language, total=page.total, shown=shown)]
    lines.extend(ticket_line(t, now, language) for t in page.tickets)
    return "\n".join(lines)


def _tickets_query(which: Which, command: Command) -> TicketQuery:
    """The tickets `which` names, where the command was run (staff rights are per workspace:
    a Discord moderator sees their server's tickets only). Those still waiting come the
    longest-waiting first, as the digest lists them: the newest first hid the oldest behind
    the cut. `all` is a history, the newest first."""
    return TicketQuery(
        reach=_here(command),
        statuses=None if which == Which.ALL else (TicketStatus.OPEN, TicketStatus.CLAIMED),
        assignee=command.invoker.id if which == Which.MINE else None,
        oldest_first=which != Which.ALL,
    )


@REGISTRY.command(
    "claim",
    "Take a ticket: you will answer it.",
    access=Access.STAFF,
    routed=True,
    params=(Param(name="ticket", help="the ticket number"),),
)
async def _claim(host: CommandHost, command: Command, args: dict[str, str], channel: Channel) -> str:
    language = await reply_language(host, command)
    ticket_id = _number(args["ticket"], "ticket", language)
    where = command.conversation
    result = await host.escalations.claim(ticket_id, command.invoker, channel, where, language=language)
    return result.message


@REGISTRY.command(
    "resolve",
    "Mark a ticket resolved, with an optional note.",
    access=Access.STAFF,
    routed=True,
    params=(
        Param(name="ticket", help="the ticket number"),
        Param(name="note", help="what solved it", required=False),
    ),
)
async def _resolve(host: CommandHost, command: Command, args: dict[str, str], channel: Channel) -> str:
    language = await reply_language(host, command)
    ticket_id = _number(args["ticket"], "ticket", language)
    note = args.get("note", "")
    if len(note) > NOTE_LIMIT:  # it is posted in the thread and kept with the ticket
        raise UsageError(say("note_too_long", language, length=len(note), limit=NOTE_LIMIT))
    result = await host.escalations.resolve(
        ticket_id, command.invoker, channel, command.conversation, note=note, language=language
    )
    return result.message


@REGISTRY.command(
    "assign",
    "Give a ticket to someone on the team.",
    access=Access.ADMIN,
    params=(
        Param(name="ticket", help="the ticket number"),
        Param(name="person", help="a mention or a user id", person=True),
    ),
)
async def _assign(host: CommandHost, command: Command, args: dict[str, str], channel: Channel) -> str:
    language = await reply_language(host, command)
    ticket_id = _number(args["ticket"], "ticket", language)
    person = _person(command, args["person"], language)
    # kept by the name their mention showed; the thread tags them (escalation.tickets)
    to = Author(id=person.id, name=person.name)
    where = command.conversation
    result = await host.escalations.reassign(
        ticket_id, command.invoker, to, channel, where, language=language
    )
    return result.message


@REGISTRY.command(
    "learn",
    "Review knowledge drafts made from resolved tickets: list, show, title, approve or reject.",
    access=Access.ADMIN,
    params=(
        Param(
            name="action",
            help="list, show, title, approve or reject",
            required=False,
            choices=("list", "show", "title", "approve", "reject"),
        ),
        Param(name="draft", help="the draft number", required=False),
        Param(name="text", help="the new title, for title", required=False),
    ),
)
async def _learn(host: CommandHost, command: Command, args: dict[str, str], channel: Channel) -> str:
    action = (args.get("action") or "list").lower()
    language = await reply_language(host, command)
    if action == "list":
        drafts = await host.store.run(StateStore.drafts_in, _here(command), "pending")
        if not drafts:
            return say("learn_none", language)
        return "\n".join(
            [say("learn_waiting", language)]
            + [
                # a title is the asker's first line until staff retitle it: shown as typed, as `show` does
                say(
                    "learn_line",
                    language,
                    draft=d.id,
                    title=quoted(d.title, TITLE_LIMIT),
                    ticket=d.ticket_id,
                    visibility=d.visibility,
                )
                for d in drafts
            ]
        )
    if not args.get("draft"):
        raise UsageError(say("learn_needs_number", language, action=action))
    draft_id = _number(args["draft"], "draft", language)
    draft = await host.store.run(StateStore.draft, draft_id)
    mine = {d.id for d in await host.store.run(StateStore.drafts_in, _here(command), None, 1000)}
    if draft is None or draft.id not in mine:
        return say("learn_no_draft", language, draft=draft_id)
    if action == "show":
        head = say(
            "learn_show",
            language,
            draft=draft.id,
            status=draft.status,
            visibility=draft.visibility,
            ticket=draft.ticket_id,
        )
        return f"{head}\n**{quoted(draft.title)}**\n{quoted_block(draft.question)}\n\n{quoted(draft.answer)}"
    if draft.status != "pending":
        return say("learn_already", language, draft=draft.id, status=draft.status)
    if action == "title":
        # a title is one line: it becomes the learned file's heading and front matter title
        title = single_line(args.get("text", ""), TITLE_LIMIT)
        if not title:
            raise UsageError(say("learn_needs_title", language))
        await host.store.run(StateStore.retitle_draft, draft_id, title)
        return say("learn_titled", language, draft=draft_id, title=quoted(title))
    if action == "reject":
        changed = await host.store.run(
            StateStore.decide_draft, draft_id, status="rejected", by=command.invoker.id, at=host.clock.now()
        )
        return say("learn_rejected" if changed else "learn_decided", language, draft=draft_id)
    path = await approve_draft(host, draft, command.invoker)
    if path is None:
        # the compare-and-set lost: to a decision, or to an edit saved meanwhile (the
        # dashboard, `learn title`), which is never published under an approval of the text before
        now = await host.store.run(StateStore.draft, draft_id)
        if now is not None and now.status == "pending":
            return say("learn_changed", language, draft=draft_id)
        return say("learn_decided", language, draft=draft_id)
    return and_others(host, say("learn_approved", language, draft=draft_id, path=path), language)


@REGISTRY.command("reindex", "Re-read the knowledge folder now (only changed files).", access=Access.ADMIN)
async def _reindex(host: CommandHost, command: Command, args: dict[str, str], channel: Channel) -> str:
    report = await host.shared_knowledge.reindex()
    return and_others(host, report.describe())


def and_others(host: CommandHost, said: str, language: str = "en") -> str:
    """What a change to the folder says, and on a cluster that it reached this worker alone
    so far: each worker's index is its own, and the others sync theirs at their next tick."""
    return f"{said}\n{say('others_follow', language)}" if host.shared_knowledge.others else said


@REGISTRY.command(
    "stats",
    "Support metrics for the last 7 days: answers, resolutions, escalations, response times, and the "
    "questions the docs do not answer yet.",
    access=Access.ADMIN,
)
async def _stats(host: CommandHost, command: Command, args: dict[str, str], channel: Channel) -> str:
    # the same code path as `supportbot report --platform P --since 7d`, so both agree
    now = host.clock.now()
    period = Period(since=now - timedelta(days=7), until=now)
    # the workspace's own figures: another workspace's questions are not for this one's staff
    where = command.conversation
    scope = Scope(platform=where.platform, workspace=where.workspace)
    await host.insights.gaps.refresh(
        where.platform, frozenset({where.workspace})
    )  # gaps current, addressed ones out
    report = await host.store.report(collect, period, scope, Definitions.from_settings(host.settings), top=5)
    return chat_summary(report, "Last 7 days")


def _here(command: Command) -> tuple[Reach]:
    """What a command's lists may show: `policy.listed_from` where it was run."""
    where = command.conversation
    return (Reach(platform=where.platform, only=policy.listed_from(where)),)


def _number(text: str, what: str, language: str) -> int:
    """A ticket or draft number as typed ("12" or "#12"), or a UsageError saying what is wanted:
    a number SQLite cannot hold, or one nobody was shown, is a typing mistake, not a failure."""
    number = parse_number(text)
    if number is None:
        raise UsageError(say(f"not_a_{what}_number", language, typed=_shown(text)))
    return number


# how to name a person on each platform, said when what was typed is not one
_WHOM: dict[str, str] = {Platform.SLACK: "assign_whom_slack", Platform.DISCORD: "assign_whom_discord"}


def _person(command: Command, text: str, language: str) -> TypedPerson:
    """Whom `text` names on the command's platform, or a UsageError saying how to name them:
    a ticket given to a word that is no user id ("Sam") would be given to nobody."""
    platform = command.conversation.platform
    person = parse_person(text, platform)
    if person is None:
        raise UsageError(say(_WHOM.get(platform, "assign_whom"), language, typed=_shown(text)))
    return person


def _shown(text: str) -> str:
    """What someone typed, quoted back on one short line."""
    return repr(single_line(text, 40))


async def approve_draft(host: CommandHost, draft: Draft, admin: Author) -> str | None:
    """Approve a draft: write it into the knowledge folder and index it at once (on the other
    workers, at their next clock tick).
    Returns the file's path, or None if someone decided the draft first, or changed its
    title or answer since `draft` was read (what was written is not what it holds)."""
    path = await host.knowledge.write(
        lambda folder, today: write_entry(folder, draft, today), host.clock.now().date()
    )
    if not await host.store.run(
        StateStore.decide_draft,
        draft.id,
        status="approved",
        by=admin.id,
        at=host.clock.now(),
        path=path,
        unchanged=(draft.title, draft.answer),
    ):
        # write_entry created this file for this call alone (exclusively), so taking it back
        # never deletes the page of another approval, in this worker or another one
        await host.knowledge.remove(path)
        return None
    await host.shared_knowledge.reindex(counted=True)  # decide_draft counted the new page
    log.info("knowledge draft approved", extra={"ticket_id": draft.ticket_id})
    return path
