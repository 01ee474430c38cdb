"""Output filtering for model-written text, before anyone sees it (partial or final).

What this module owns: `clean_output(text)`, a pure function that

* neutralises mentions: mass pings (`@everyone`, `@here`, `@channel`, Slack `<!channel>`,
  `<!here>`, `<!everyone>`, user groups `<!subteam^ID>`), Discord role pings `<@&ID>` and
  user pings `<@ID>`. Who gets pinged is the core's decision (`Reply.mentions`), never the
  model's, so a passage or question saying "ping @everyone" cannot make the bot do it;
* replaces anything shaped like a credential with `[redacted]` (bot/answering/secrets.py);
* with the passages' addresses, writes out every link whose words disguise another address
  (`plain_links`).

Adapters still escape mentions when rendering; this is the answerer's own line of defence,
and it also covers the streamed partial text, which adapters post before the final reply.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING

from bot.answering.secrets import URL, redact_secrets
from bot.markdown import LINK, unescape

if TYPE_CHECKING:
    from bot.types import Passage


# -- mentions ------------------------------------------------------------------------------

# Slack special mentions, optionally with a label: <!here>, <!channel|channel>, <!everyone>.
_SLACK_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>", re.IGNORECASE)
# Slack user groups: <!subteam^S0123|@support>; show the label without its @, or a placeholder.
_SLACK_GROUP = re.compile(r"<!subteam\^[A-Z0-9]+(?:\|@?([^>]*))?>", re.IGNORECASE)
# Discord roles <@&123>, users <@123> / <@!123>, Slack users <@U0123> / <@U0123|name>.
_ROLE = re.compile(r"<@&\d+>")
_USER = re.compile(r"<@!?[A-Z0-9]+(?:\|[^>]*)?>", re.IGNORECASE)
# Plain-text mass pings; not inside a word or an e-mail address ("ops@here.example").
_AT_MASS = re.compile(r"(?<![\w@.])[@＠](everyone|here|channel)\b", re.IGNORECASE)


def neutralise_mentions(text: str) -> str:
    text = _SLACK_SPECIAL.sub(lambda m: m.group(1).lower(), text)
    text = _SLACK_GROUP.sub(lambda m: (m.group(1) or "").strip() or "[group]", text)
    text = _ROLE.sub("[role]", text)
    text = _USER.sub("[user]", text)
    return _AT_MASS.sub(lambda m: m.group(1), text)


def clean_output(text: str, *, partial: bool = False, links: Collection[str] | None = None) -> str:
    """Model text made safe to post: no pings, no credentials; with `links` (the addresses its
    passages hold), no link that words disguise unless it is one of them (`plain_links`)."""
    text = neutralise_mentions(redact_secrets(text, partial=partial))
    return text if links is None else plain_links(text, links)


# The link syntax is bot.markdown.LINK's; an address is one with a scheme (https:, mailto:),
# which every renderer links and none links a path without one. A "](" before an address that
# LINK does not read as a link (words holding code, an address holding brackets, a link cut
# off while streaming) is broken apart too: another renderer may read it as one.
# An address is read with its escapes taken back, as the renderers read it ("https\\://" is
# "https://" to Slack's converter). Code blocks are filtered too: the renderers do not agree on
# where one ends (Discord has no ~~~ fences, and ends a ``` block mid-line). A stray "](" is
# one before a scheme and more ("](https:/", "](mailto:x"), not a call's "](lambda: x)".
_LINK_OR_STRAY = re.compile(
    rf"{LINK.pattern}|(?P<stray>\]\()(?=\s*<?[a-z][a-z0-9+.\\-]*:[^\s)])", re.IGNORECASE
)
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def plain_links(text: str, allowed: Collection[str]) -> str:
    """`text` with every Markdown link whose address is not `allowed` written out: its words,
    then the address itself, so nobody can have the bot post a link disguised as other words
    (a model steered by a question or a document, or one making an address up). A link to
    one of the passages' own addresses stays as the model wrote it."""

    def written_out(match: re.Match[str]) -> str:
        if match.group("stray"):
            return "] ("
        url = unescape(match.group("url"))
        if url in allowed or not _SCHEME.match(url):
            return match.group(0)
        return f"{match.group('label')} ({url})"

    return _LINK_OR_STRAY.sub(written_out, text)


def passage_links(passages: Iterable[Passage]) -> frozenset[str]:
    """The addresses the passages give a model: each page's own, and those in its text."""
    found: set[str] = set()
    for passage in passages:
        if passage.url:
            found.add(passage.url)
        found.update(m.group(0).rstrip(".,;:!?)]>'\"") for m in URL.finditer(passage.text))
    return frozenset(found)
