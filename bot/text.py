"""Text from outside made safe once, where it enters the core: pure functions, no I/O.

Platforms deliver whatever their clients send. Python strings can hold lone UTF-16
surrogates ("\\ud800"), which no UTF-8 encoder accepts, and NUL ("\\u0000" in an event's
JSON), which PostgreSQL's text refuses (SQLite keeps it): the store, JSON logs and the
platforms' HTTP APIs would each fail on one of them far from where it came in, and the
question would be lost. Both are replaced with U+FFFD (what a UTF-8 decoder shows for a bad byte), so the rest
of the core only ever sees text it can store, log and send on either backend.

Identifiers people type or buttons carry (ticket, draft and answer numbers, user ids) are
parsed here too, into values of a sane shape or None, so a caller answers "that is not a
ticket number" rather than passing a 30-digit number to SQLite.
"""

from __future__ import annotations

import codecs
import dataclasses
import re
import unicodedata
from typing import TYPE_CHECKING, Any, TypeVar

from bot.channel_types import Platform

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    D = TypeVar("D", bound=DataclassInstance)
else:
    D = TypeVar("D")

REPLACEMENT = "\ufffd"

# a ticket, draft or answer number: 12 digits is a million times more than any bot will number,
# and far inside SQLite's 64-bit integers
MAX_NUMBER_DIGITS = 12
_NUMBER = re.compile(rf"#?\s*([0-9]{{1,{MAX_NUMBER_DIGITS}}})")

# a platform user id as typed: Slack's U0123ABC, Discord's snowflakes, a console name; word
# characters, dots and dashes only, so nothing typed after it ("<@U1> and more") slips in
MAX_USER_ID = 64
_USER_ID = re.compile(rf"[\w.-]{{1,{MAX_USER_ID}}}")
_MENTION = re.compile(rf"<@!?([\w.-]{{1,{MAX_USER_ID}}})(?:\|([^>\n]{{0,200}}))?>")
# a user id typed bare on a platform whose ids have a shape: a word that is not one ("Sam",
# "@sam") is a name, and a ticket given to it would be given to nobody. A console user's id
# is their name, so any word is one there
_PLATFORM_USER_ID: dict[str, re.Pattern[str]] = {
    Platform.SLACK: re.compile(r"[UW][A-Z0-9]{1,63}"),
    Platform.DISCORD: re.compile(r"[0-9]{15,20}"),  # a snowflake
}
MAX_PERSON_NAME = 80  # characters of a mention's display name kept


@dataclasses.dataclass(frozen=True, kw_only=True)
class TypedPerson:
    """A person named in a command: their platform user id, and the display name their
    mention carried ("" when it carried none: a bare id, a Discord mention)."""

    id: str
    name: str = ""


def scrub(text: str) -> str:
    """`text` with every NUL and lone surrogate replaced by U+FFFD; a proper pair becomes its
    character. `text` itself when nothing needed changing."""
    if "\x00" in text:
        text = text.replace("\x00", REPLACEMENT)
    try:
        text.encode("utf-8")
        return text  # the common case: nothing to do, no copy
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def scrub_event(event: D) -> D:
    """A copy of a frozen event (InboundMessage, Command, ActionEvent) whose every string,
    nested ones included (author name, conversation ids, roles), is safe to encode. The event
    itself when nothing needed changing."""
    changes = {}
    for field in dataclasses.fields(event):
        if not field.compare:
            continue  # `raw`: the platform's payload, for the adapter only; never stored or logged
        value = getattr(event, field.name)
        safe = _scrub_value(value)
        if safe is not value:
            changes[field.name] = safe
    return dataclasses.replace(event, **changes) if changes else event


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        safe = scrub(value)
        return value if safe == value else safe
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return scrub_event(value)
    if isinstance(value, frozenset | tuple) and any(isinstance(v, str | tuple) for v in value):
        items = [_scrub_value(v) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return type(value)(items)
    return value


def parse_number(text: str) -> int | None:
    """A positive ticket, draft or answer number as typed ("12", "#12", "# 12"), or None."""
    match = _NUMBER.fullmatch(text.strip())
    if match is None:
        return None
    number = int(match.group(1))
    return number if number > 0 else None


def parse_user_id(text: str) -> str | None:
    """A user as typed: a platform mention (<@U123>, <@U123|ann>, <@!123>), @id or a bare id;
    None for anything else."""
    text = text.strip()
    mention = _MENTION.fullmatch(text)
    if mention is not None:
        return mention.group(1)
    bare = text.removeprefix("@")
    return bare if _USER_ID.fullmatch(bare) else None


def parse_person(text: str, platform: str) -> TypedPerson | None:
    """A person as typed in a command on `platform`: a mention (<@U123>, <@U123|ann>,
    <@!123>), or a bare id (with or without @) of the platform's shape; None for anything
    else. A mention's display name is kept, so the thread can say whom it means by name."""
    text = text.strip()
    mention = _MENTION.fullmatch(text)
    if mention is not None:
        name = single_line(mention.group(2) or "", MAX_PERSON_NAME).lstrip("@")
        return TypedPerson(id=mention.group(1), name="" if blank(name) else name)
    bare = text.removeprefix("@")
    if platform == Platform.CONSOLE:
        return TypedPerson(id=bare, name=bare) if _USER_ID.fullmatch(bare) else None
    shape = _PLATFORM_USER_ID.get(platform)
    return TypedPerson(id=bare) if shape is not None and shape.fullmatch(bare) else None


def read_line(raw: bytes, encoding: str) -> str:
    """One line read as bytes (`ask`'s questions from a pipe, `chat`'s typed lines), without its
    line break, decoded on its own: a line in another encoding (a cp949 export among UTF-8
    ones) raises UnicodeDecodeError for that line alone, where a text stream failed the whole
    read, losing the lines around it. A UTF-8 byte-order mark (Notepad's) is dropped."""
    if codecs.lookup(encoding).name == "utf-8":
        encoding = "utf-8-sig"
    return raw.decode(encoding).rstrip("\r\n")


def single_line(text: str, limit: int) -> str:
    """`text` on one line of at most `limit` characters: line breaks, line and paragraph
    separators and control characters become spaces, runs of spaces one. Format characters
    (the zero-width joiner emoji need) stay."""
    spaced = "".join(" " if unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") else ch for ch in text)
    return " ".join(spaced.split())[:limit].rstrip()


# Default_Ignorable_Code_Point (Unicode's DerivedCoreProperties.txt, as of 14.0, the version
# Python 3.11's unicodedata knows): characters that render as nothing, so a reader sees "</pas\u034fsage>" as a tag. Not
# all are format characters (Cf): the grapheme joiner and the variation selectors are marks,
# the Hangul fillers letters.
_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
)  # fmt: skip
_IGNORABLE_TAGS = (0xE0000, 0xE0FFF)  # tags and variation selectors 17-256: a range, not a set
_IGNORABLE = frozenset(code for low, high in _DEFAULT_IGNORABLE for code in range(low, high + 1))


def invisible(char: str) -> bool:
    """Whether `char` renders as nothing: a default-ignorable code point or a format character."""
    code = ord(char)
    return (
        code in _IGNORABLE
        or _IGNORABLE_TAGS[0] <= code <= _IGNORABLE_TAGS[1]
        or unicodedata.category(char) == "Cf"
    )


_BLANK_GLYPHS = frozenset("\u2800")  # the braille blank: a symbol, drawn as nothing


def blank(text: str) -> bool:
    """Whether `text` shows nothing a reader could read: whitespace, invisible characters and
    blank glyphs only (a mention holding a zero-width space is an empty mention)."""
    return all(c.isspace() or c in _BLANK_GLYPHS or invisible(c) for c in text)
