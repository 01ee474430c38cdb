"""What the dashboard itself says on a page after an action (its status line): every such
sentence in English, with a `{name}` for each value it holds. The English is the key of the
Korean in i18n.py (tests/bot/dashboard/test_i18n.py checks each has one, with the same
values), so a Korean viewer reads the line in Korean.

What the core says back (a ticket's move, the reindex report, a draft made from a gap) is
the chat's own reply and is shown as the core wrote it.
"""

from __future__ import annotations

from enum import StrEnum

from aiohttp import web

from bot.dashboard.context import viewer_locale
from bot.dashboard.i18n import translator


class Notice(StrEnum):
    NOTE_TOO_LONG = "The note is {length:,} characters; keep it under {limit:,}."
    ASSIGN_WHOM = "Give the user id of the person to assign, e.g. U12345."
    NOT_ON_TEAM = (
        "{person} is not on the team of this ticket's workspace ({workspace}): assign one of the "
        "people listed (named for {workspace} in the settings, or seen working its tickets), or "
        "someone of {workspace} with {command} there."
    )
    DRAFT_NO_TITLE = "A draft needs a title: it becomes the document's heading."
    DRAFT_NO_ANSWER = "A draft needs an answer: it is what the bot will say."
    ANSWER_TOO_LONG = "The answer is {length:,} characters; keep it under {limit:,}."
    DRAFT_ALREADY = "Draft #{draft} was already {status}."
    DRAFT_SAVED = "Draft #{draft} saved."
    DRAFT_CHANGED_MEANWHILE = (
        "Draft #{draft} was changed by someone else while you approved it: "
        "review it as it is now, and approve again."
    )
    DRAFT_EDITED_MEANWHILE = (
        "Someone else saved draft #{draft} after you opened it: your text is still in the editor, "
        "theirs is shown below it. Save again to replace theirs with yours."
    )
    DRAFT_DECIDED = "Draft #{draft} was already decided."
    DRAFT_APPROVED = "Draft #{draft} approved: written to {path} and indexed."
    # on a cluster: indexed by the worker that served the page, the others at their next tick
    DRAFT_APPROVED_CLUSTER = "Draft #{draft} approved: written to {path} and indexed. The other workers re-read the folder within a minute."
    DRAFT_REJECTED = "Draft #{draft} rejected."
    GAP_ALREADY_DISMISSED = "Gap #{gap} was already dismissed."
    GAP_DISMISSED = "Gap #{gap} dismissed. It shows again if it is asked {asks} more time(s)."


def notice(request: web.Request, said: Notice, **values: object) -> str:
    """`said` in the viewer's language with its values filled in: the line a page shows, or
    that a redirect carries, signed, to the page it leads to (the same browser asks for it
    in the same language)."""
    return translator(viewer_locale(request))(said.value).format(**values)


def label(request: web.Request, english: str) -> str:
    """One of a page's labels (a status) in the viewer's language, to fill a notice with."""
    return translator(viewer_locale(request))(english)
