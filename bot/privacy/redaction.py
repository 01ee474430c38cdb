"""Personal data replaced by typed placeholders before anything is stored or sent to a model.

What this module owns: `Redactor`, built once from `[privacy] redact`, and its pure
`redact(text)` / `scan(text)`. The core applies it to every message and command where they
enter (`SupportBot.on_message`, before the inbox keeps its payload; `on_command`, before the
router), so the inbox, the conversation record, answer records, tickets, drafts, the search
query and the prompt all only ever see the placeholder. The platform message itself is never
edited: the asker's own thread still shows what they typed.

The kinds, in the order they are applied (earlier ones hide text later ones might misread):

* `token` -> `[redacted]`: the credential patterns of bot/answering/secrets.py. The same
  placeholder the bot has always used for secrets in cards, prompts and logs, so a credential
  reads the same wherever it is hidden.
* `email` -> `[email]`: `local@domain.tld`, ASCII, as people type them.
* `iban` -> `[iban]`: a known country code, that country's length, and the mod-97 check
  (ISO 13616), written compact or in groups of four.
* `card` -> `[card]`: a network's issuer prefix and length, the Luhn check, written contiguous
  or in the groups printed on cards, standing on its own (bot/privacy/cards.py says exactly
  what that excludes: order numbers, ids in mentions and emoji, decimals, versions, columns).
* `phone` -> `[phone]`: what the `phonenumbers` library finds and judges valid. Numbers
  written with a `+` country code are found for every country; numbers written the national
  way are found for the United States/Canada and Korea (`NATIONAL_REGIONS`), the regions of
  the bot's two languages. A national number of another country ("030 1234567") is missed
  unless written with its `+49`.

Counts per kind are returned for logs; the values never are.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from bot.answering.secrets import REDACTED, redact_secrets
from bot.config_privacy import PrivacySettings, RedactKind
from bot.markdown import literal
from bot.patterns import lazy_pattern
from bot.privacy.cards import card_spans
from bot.privacy.cards import luhn_valid as luhn_valid  # where tests and callers found it
from bot.text import single_line
from bot.types import ActionEvent, Command, InboundMessage

log = logging.getLogger(__name__)

PLACEHOLDERS: Mapping[RedactKind, str] = MappingProxyType(
    {
        RedactKind.TOKEN: REDACTED,
        RedactKind.EMAIL: "[email]",
        RedactKind.IBAN: "[iban]",
        RedactKind.CARD: "[card]",
        RedactKind.PHONE: "[phone]",
    }
)
ORDER = (RedactKind.TOKEN, RedactKind.EMAIL, RedactKind.IBAN, RedactKind.CARD, RedactKind.PHONE)
NATIONAL_REGIONS = ("US", "KR")  # "+CC" numbers are found whatever the region


def quoted(text: str, limit: int | None = None) -> str:
    """What people wrote, as the bot copies it into its own words (the light Markdown the
    adapters render): a card, the digest, a burst alert, a ticket list, `/support stats`.
    `quoted_plain`, shown `literal`ly: what they typed as a link, bold or a heading reads as
    typed, so nobody makes the bot post a link disguised as other words under its name."""
    return literal(quoted_plain(text, limit))


def quoted_plain(text: str, limit: int | None = None) -> str:
    """What people wrote, as the bot copies it as plain text: the dashboard, a report's table,
    CSV or JSON. Credentials are always hidden, whatever `[privacy] redact`
    says: its kinds decide what is stored, and text stored before (or with `token` left out)
    still holds them. With `limit`: on one line of at most `limit` characters, so a line break
    cannot end a quote and make the rest read as the bot's own words. Redacted before it is
    shortened: a token cut in half may no longer look like one."""
    if limit is None:
        return redact_secrets(text)
    head = _head(text, max(HEAD, 4 * limit))
    if head is not None:
        # the head's redaction shows twice what is asked: what is shown ends far before the cut
        wide = single_line(redact_secrets(head, partial=True), 2 * limit)
        if len(wide) >= 2 * limit - 1:  # single_line may drop one trailing space
            return wide[:limit].rstrip()
    return single_line(redact_secrets(text), limit)


HEAD = 1000  # characters of a long text redacted to quote the start of it (a pasted log's)


# a quoted value still open where a head is cut ('db_password: "Correct horse'): a quoted
# secret may hold spaces, and half of one is no longer matched as one
_OPEN_QUOTE = re.compile(r"[:=][ \t]*[\"'`][^\"'`\n]{0,200}\Z")


def _head(text: str, window: int) -> str | None:
    """The start of a text longer than `window`, cut at a space so no credential (a run
    without one) is cut in half, and before a quoted value the cut would halve; None when the
    text is short, or has no space to cut at. (A key block the cut halves is hidden to the
    end by the partial scan.)"""
    if len(text) <= window:
        return None
    head = text[:window].rsplit(None, 1)
    if len(head) != 2:
        return None
    open_quote = _OPEN_QUOTE.search(head[0])
    return head[0] if open_quote is None else head[0][: open_quote.start()]


def quoted_block(text: str) -> str:
    """`text` as a Markdown quote (`quoted`, every line marked "> "), so none of its lines
    reads as the bot's own words around it: a draft's question on a card or in `learn show`."""
    return "\n".join(f"> {line}" for line in quoted(text).splitlines() or [""])


# -- email ---------------------------------------------------------------------------------

# Starts at a boundary (never mid-run), so a long run of local-part characters without an
# "@" is scanned once, not once per position.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = lazy_pattern(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9_%+-][A-Za-z0-9._%+-]{0,63}@"
    + rf"(?:{_LABEL}\.)+[A-Za-z]{{2,24}}(?![A-Za-z0-9-])"
)

# -- IBAN ----------------------------------------------------------------------------------

# Length of the whole IBAN per country (the SWIFT IBAN registry).
IBAN_LENGTHS: Mapping[str, int] = MappingProxyType(
    {
        "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
        "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
        "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
        "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
        "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
        "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30,
        "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
        "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
        "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
    }
)  # fmt: skip
# A candidate: country, check digits, then letters and digits, possibly in groups of four.
# The country's length decides where it ends (a following capitalised word is not part of it).
_IBAN = lazy_pattern(r"(?<![A-Za-z0-9])[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]){11,30}", re.IGNORECASE)


def iban_valid(compact: str) -> bool:
    """`compact` (no spaces) is an IBAN: known country, its length, and mod 97 == 1."""
    compact = compact.upper()
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isalnum():
        return False
    digits = "".join(str(int(ch, 36)) for ch in compact[4:] + compact[:4])
    return int(digits) % 97 == 1


def _iban_end(text: str, start: int, end: int) -> int | None:
    """Where the IBAN starting at `start` ends, or None: the candidate is cut at the length its
    country prescribes, and must not run on into more letters or digits."""
    length = IBAN_LENGTHS.get(text[start : start + 2].upper())
    if length is None:
        return None
    seen, pos = 0, start
    while pos < end and seen < length:
        if text[pos] != " ":
            seen += 1
        pos += 1
    if seen < length or (pos < len(text) and text[pos].isalnum()):
        return None
    return pos if iban_valid(text[start:pos].replace(" ", "")) else None


def _iban_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in _IBAN().finditer(text):
        end = _iban_end(text, match.start(), match.end())
        if end is not None:
            spans.append((match.start(), end))
    return spans


# -- phone numbers -------------------------------------------------------------------------


def _phone_spans(text: str) -> list[tuple[int, int]]:
    if not any(ch.isdigit() for ch in text):
        return []  # most messages: no need to wake the matcher
    # imported here: 10-15 ms that only `[privacy] redact = ["phone"]` needs, and only once digits show up
    import phonenumbers

    spans: list[tuple[int, int]] = []
    for region in NATIONAL_REGIONS:
        spans.extend((m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(text, region))
    return spans


# -- the redactor --------------------------------------------------------------------------

_FINDERS: Mapping[RedactKind, Callable[[str], list[tuple[int, int]]]] = MappingProxyType(
    {
        RedactKind.EMAIL: lambda text: [m.span() for m in _EMAIL().finditer(text)],
        RedactKind.IBAN: _iban_spans,
        RedactKind.CARD: card_spans,
        RedactKind.PHONE: _phone_spans,
    }
)


def _replace_spans(text: str, spans: Iterable[tuple[int, int]], placeholder: str) -> tuple[str, int]:
    """`text` with every span (overlapping ones merged) replaced by `placeholder`; and how many."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    if not merged:
        return text, 0
    parts, last = [], 0
    for start, end in merged:
        parts.append(text[last:start])
        parts.append(placeholder)
        last = end
    parts.append(text[last:])
    return "".join(parts), len(merged)


def without_placeholders(text: str) -> str:
    """`text` with the typed placeholders taken out: they say what was removed, not what the
    question is about, so a search or an embedding should not count them as words."""
    for placeholder in PLACEHOLDERS.values():
        text = text.replace(placeholder, " ")
    return text


@dataclass(frozen=True, kw_only=True)
class Redaction:
    """A text with its personal data replaced, and how many values of each kind were found."""

    text: str
    found: Mapping[RedactKind, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.found.values())


@dataclass(frozen=True)
class Redactor:
    """Replaces the configured kinds of personal data; an empty `kinds` changes nothing."""

    kinds: frozenset[RedactKind]

    @classmethod
    def from_settings(cls, privacy: PrivacySettings) -> Redactor:
        return cls(frozenset(privacy.redact))

    def scan(self, text: str) -> Redaction:
        found: dict[RedactKind, int] = {}
        for kind in ORDER:
            if kind not in self.kinds:
                continue
            if kind == RedactKind.TOKEN:
                before = text.count(REDACTED)
                text = redact_secrets(text)
                count = text.count(REDACTED) - before
            else:
                text, count = _replace_spans(text, _FINDERS[kind](text), PLACEHOLDERS[kind])
            if count:
                found[kind] = count
        return Redaction(text=text, found=found)

    def redact(self, text: str) -> str:
        return self.scan(text).text if self.kinds and text else text

    def message(self, message: InboundMessage) -> InboundMessage:
        """`message` as the core keeps it: its text redacted (the platform's copy is untouched;
        `raw`, the platform payload, stays with the adapter and is never stored)."""
        redaction = self._scan_logged(message.text, "message", message.id)
        return message if redaction.text == message.text else replace(message, text=redaction.text)

    def command(self, command: Command) -> Command:
        """`command` with its arguments redacted: `/support ask` questions, resolution notes.
        Mentions, ticket numbers and user ids are never personal data of these kinds."""
        redaction = self._scan_logged(command.args, "command", command.id)
        options = command.options
        if options is not None:
            options = tuple(
                (name, self._scan_logged(value, "command", command.id).text) for name, value in options
            )
        if redaction.text == command.args and options == command.options:
            return command
        return replace(command, args=redaction.text, options=options)

    def action(self, event: ActionEvent) -> ActionEvent:
        """`event` with the text typed into a form redacted (an edited draft answer). A plain
        press carries only ids, which are left alone."""
        if not event.text:
            return event
        redaction = self._scan_logged(event.text, "action", event.id)
        return event if redaction.text == event.text else replace(event, text=redaction.text)

    def _scan_logged(self, text: str, what: str, event_id: str) -> Redaction:
        if not self.kinds or not text:
            return Redaction(text=text)
        redaction = self.scan(text)
        if redaction.total:
            # counts only: the values are what must never be written anywhere
            log.info(
                "personal data redacted",
                extra={
                    "event": what,
                    "event_id": event_id,
                    **{f"redacted_{k}": n for k, n in redaction.found.items()},
                },
            )
        return redaction
