"""Pure decisions: whether to act on a message, who is staff or admin, what a text asks for.

No I/O and no state of its own: every function takes what it needs and returns a value,
so each rule can be tested in isolation and read in one place.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from bot.channel_types import DM_WORKSPACE, ChannelMode, DocVisibility, Platform, Visibility
from bot.config import Duty, PlatformSettings, Settings
from bot.patterns import lazy_pattern
from bot.privacy.audiences import member_audiences
from bot.types import Answer, Author, ConversationRef, InboundMessage

if TYPE_CHECKING:  # a type only: the state store's repositories are not loaded by `supportbot ask`
    from bot.store.conversations import ConversationState


class Act(StrEnum):
    IGNORE = "ignore"
    RESPOND = "respond"
    TAKEOVER = "takeover"  # staff spoke in a bot thread: record it and step back
    REVISE = "revise"  # the asker edited a question the bot answered: answer the new text in place


@dataclass(frozen=True, kw_only=True)
class Decision:
    """What the core does with a message, and why (for the log)."""

    act: Act
    why: str


def platform_settings(
    settings: Settings, platform: str, workspace: str | None = None
) -> PlatformSettings | None:
    """The platform's settings as they apply in `workspace` (a Slack team, a Discord guild):
    its `workspaces` overrides over the shared ones. Without a workspace: the shared ones."""
    if platform == Platform.SLACK:
        return settings.slack.for_workspace(workspace)
    if platform == Platform.DISCORD:
        return settings.discord.for_workspace(workspace)
    return None


def channel_mode(settings: Settings, conversation: ConversationRef, visibility: Visibility) -> ChannelMode:
    if visibility == Visibility.DIRECT or conversation.platform == Platform.CONSOLE:
        return ChannelMode.AUTO_ANSWER  # a DM is addressed to the bot by definition
    ps = platform_settings(settings, conversation.platform, conversation.workspace)
    if ps is None:
        return ChannelMode.MENTION_ONLY
    override = ps.channels.get(conversation.channel)
    if override is not None and override.mode is not None:
        return override.mode
    if ps.is_forum(conversation.channel):
        return ChannelMode.AUTO_ANSWER
    return ps.default_mode


def document_scope(
    settings: Settings, conversation: ConversationRef, visibility: Visibility, author: Author | None = None
) -> DocVisibility:
    """Which documents a conversation may see: `public` channels see public documents only.

    The adapter's view is a floor: a channel the platform says is shared outside the team
    stays public even if the configuration says otherwise, and a guest or someone from
    another organisation sees public documents only, in a DM too.
    """
    if author is not None and author.external:
        return DocVisibility.PUBLIC
    if conversation.platform == Platform.CONSOLE:
        return _scope(settings.console.visibility, settings.console.visibility)
    ps = platform_settings(settings, conversation.platform, conversation.workspace)
    if ps is None:
        return DocVisibility.PUBLIC
    if visibility == Visibility.DIRECT:
        return _scope(ps.dm_visibility, ps.dm_visibility)
    override = ps.channels.get(conversation.channel)
    configured = override.visibility if override and override.visibility else ps.default_visibility
    return _scope(configured, visibility)


def _scope(configured: Visibility, observed: Visibility) -> DocVisibility:
    if Visibility.PUBLIC in (configured, observed):
        return DocVisibility.PUBLIC
    return DocVisibility.INTERNAL


@dataclass(frozen=True, kw_only=True)
class Situation:
    """What is decided about a message once, before anything else, and passed down."""

    mode: ChannelMode
    staff: bool
    scope: DocVisibility
    language: str


def should_respond(
    message: InboundMessage,
    *,
    mode: ChannelMode,
    state: ConversationState | None,
    staff: bool,
) -> Decision:
    if message.author.is_bot:
        return Decision(act=Act.IGNORE, why="written by a bot")
    if message.edited:
        if message.edit_of is not None and mode != ChannelMode.OFF:
            return Decision(act=Act.REVISE, why="the asker edited a message")
        return Decision(act=Act.IGNORE, why="an edit")
    if mode == ChannelMode.OFF:
        return Decision(act=Act.IGNORE, why="channel is off")
    in_bot_thread = state is not None and state.bot_participating
    if staff and in_bot_thread and not message.addressed:
        return Decision(act=Act.TAKEOVER, why="staff replied in a bot thread")
    if message.addressed:
        return Decision(act=Act.RESPOND, why="addressed to the bot")
    if state is not None and state.human_takeover:
        return Decision(act=Act.IGNORE, why="a person has taken over this thread")
    if in_bot_thread:
        return Decision(act=Act.RESPOND, why="follow-up in a bot thread")
    if mode in _ANSWERS_UNASKED and message.conversation.thread is None:
        if looks_like_question(message.text):
            # in a draft channel the answer is a proposal on a staff card (bot/privacy/drafts.py)
            where = "a draft" if mode == ChannelMode.DRAFT else "an auto-answer"
            return Decision(act=Act.RESPOND, why=f"question in {where} channel")
        return Decision(act=Act.IGNORE, why="chatter, not a question")
    return Decision(act=Act.IGNORE, why="not addressed to the bot")


def plainly_not_for_us(message: InboundMessage, mode: ChannelMode) -> bool:
    """Messages the bot can ignore without looking at any state: a bot's or an edit, anything
    in a channel that is off, and a top-level message nobody addressed to the bot in a
    channel that is not auto-answer. (Thread messages need the thread's state.)"""
    if message.author.is_bot or mode == ChannelMode.OFF or (message.edited and message.edit_of is None):
        return True
    return not message.addressed and message.conversation.thread is None and mode not in _ANSWERS_UNASKED


# channel modes that take up questions nobody addressed to the bot
_ANSWERS_UNASKED = frozenset({ChannelMode.AUTO_ANSWER, ChannelMode.DRAFT})


def drafts_reply(message: InboundMessage, mode: ChannelMode) -> bool:
    """In a draft channel, an answer nobody asked the bot for directly waits for staff; a
    mention (or a DM) is answered at once."""
    return mode == ChannelMode.DRAFT and not message.addressed


def listed_from(where: ConversationRef) -> frozenset[str]:
    """The workspaces whose tickets, drafts and gaps a command run in `where` lists: its own,
    and direct messages (on Discord they belong to no server, and staff act on them from
    any); from a direct message, the direct messages' alone: a DM says nothing of the
    servers the person is staff in."""
    return frozenset({where.workspace, DM_WORKSPACE})


def is_staff(author: Author, platform: str, settings: Settings, workspace: str | None = None) -> bool:
    if platform == Platform.CONSOLE:
        return author.id in settings.console.staff_users
    ps = platform_settings(settings, platform, workspace)
    return ps is not None and ps.people(Duty.FIRST_TIER).includes(author)


def is_routed_staff(
    author: Author, settings: Settings, conversation: ConversationRef, tags: Iterable[str]
) -> bool:
    """Whether `author` is among the people a ticket of `conversation` with `tags` is routed
    to: its channel's staff (`[slack.channels.C...] staff_users`) or one of its tags'
    (`[escalation.tags.X]`). Often the only people tagged for it, so they may claim, resolve
    and work it; for that ticket alone: a channel's or a tag's staff are not staff elsewhere
    (`is_staff` is the platform's first tier)."""
    ps = platform_settings(settings, conversation.platform, conversation.workspace)
    if ps is None:
        return False
    channel = ps.channels.get(conversation.channel)
    routes = [route for tag in tags if (route := settings.escalation.tags.get(tag)) is not None]
    people = ([ps.channel_people(channel)] if channel is not None else []) + [
        ps.tag_people(r) for r in routes
    ]
    return any(group.includes(author) for group in people)


def is_routed_staff_anywhere(
    author: Author, settings: Settings, platform: str, workspace: str | None
) -> bool:
    """Whether some channel's or tag's tickets of `workspace` are routed to `author`: they may
    ask to work a ticket by its number, and `is_routed_staff` then decides for that ticket."""
    ps = platform_settings(settings, platform, workspace)
    if ps is None:
        return False
    people = [ps.channel_people(channel) for channel in ps.channels.values()] + [
        ps.tag_people(route) for route in settings.escalation.tags.values()
    ]
    return any(group.includes(author) for group in people)


def is_admin(author: Author, platform: str, settings: Settings, workspace: str | None = None) -> bool:
    if platform == Platform.CONSOLE:
        return True  # whoever runs the terminal owns the installation
    ps = platform_settings(settings, platform, workspace)
    if ps is None:
        return False
    return ps.people(Duty.ADMIN).includes(author) or (ps.platform_admins_are_admins and author.platform_admin)


def audiences(author: Author, platform: str, settings: Settings) -> frozenset[str]:
    """The `[audiences.NAME]` `author` belongs to: the documents retrieval may use for them
    besides everyone's (bot/privacy/audiences.py says how membership is decided)."""
    return member_audiences(author, platform, settings)


def needs_escalation(answer: Answer, threshold: float) -> bool:
    return answer.abstained or (not answer.judged and answer.confidence < threshold)


# -- what a text is -------------------------------------------------------------------
# (the classifiers of chat messages compile on first use: `supportbot ask` needs none of them)

# syllables and jamo, but not the fillers (U+115F, U+1160, U+3164), which draw nothing
_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u115e\u1161-\u11ff\u3130-\u3163\u3165-\u318f]")
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


# what a text quotes rather than says: code (fenced, inline) and quoted strings (an error
# message, a UI label): its language is the quoted thing's, not the writer's
_ASIDE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]*`|(?<!\w)'[^'\n]+'(?!\w)|\"[^\"\n]+\"|“[^”\n]+”", re.S)


def detect_language(text: str) -> str:
    """'ko' or 'en'. The product supports two languages, so the script decides: a text
    in which more than a quarter of the words the writer wrote (not code, quotes or what
    they pasted: `_own_words`) hold Hangul is Korean, whatever English words (product names,
    commands, error names) it also contains. Words, not letters: a Korean word is two or
    three syllables and often carries an English name ("RuntimeError가"), so letters let a
    few identifiers outweigh the Korean. A statistical detector is less reliable on short chat."""
    if _HANGUL.search(text) is None:
        return "en"  # the usual case, decided without looking at every word of a long answer
    words = _own_words(_ASIDE.sub(" ", text)) or _words(text)
    korean = sum(1 for word in words if _HANGUL.search(word))
    return "ko" if korean * 4 > len(words) else "en"


def language_shown(text: str) -> str | None:
    """`detect_language`'s verdict, or None when the writer wrote no word of either language:
    only names (identifiers, flags, paths, versions), numbers, code or quotes, as in
    "SLACK_APP_TOKEN?". Such a text does not show what language its writer speaks."""
    if not any(_HANGUL.search(word) or _is_prose(word) for word in _ASIDE.sub(" ", text).split()):
        return None
    return detect_language(text)


def _own_words(text: str) -> list[str]:
    """The words of `text` (code and quotes set aside) that its writer wrote rather than pasted.
    Korean puts the verb last, so a line that ends in a Hangul word after another is a Korean
    sentence; a writer who writes those pastes, without quotes, what is in English around them
    (an error, a command's output): the Latin-only words between its Hangul words ("supportbot
    run 하면 Error: SLACK_APP_TOKEN is not set 에러가 나요"), and the lines without Hangul
    beside it (a traceback under "이런 에러가 나요"). Without such a line: every word."""
    lines = [_words(line) for line in text.splitlines()]
    if not any(_korean_sentence(line) for line in lines):
        return [word for line in lines for word in line]
    own: list[str] = []
    for line in lines:
        if _korean_sentence(line):
            first = next(i for i, word in enumerate(line) if _HANGUL.search(word))
            own += line[:first] + [word for word in line[first:] if _HANGUL.search(word)]
        elif any(_HANGUL.search(word) for word in line):
            own += line  # an English sentence that names a Korean term ("What does 설정 mean?")
    return own


def _korean_sentence(words: list[str]) -> bool:
    return (
        bool(words)
        and _HANGUL.search(words[-1]) is not None
        and sum(1 for w in words if _HANGUL.search(w)) > 1
    )


def may_be_in(text: str, language: str) -> bool:
    """Whether an answer to a question in `language` may be written in it: a Korean one has
    Korean words of its own, outside code and quotes, however much English documentation,
    code or product names it quotes beside them (the share `detect_language` weighs would
    read such an answer as English). An English question's answer is never ruled out: every
    answer holds Latin letters."""
    return language != "ko" or _HANGUL.search(_ASIDE.sub(" ", text)) is not None


def _words(text: str) -> list[str]:
    return [word for word in text.split() if _LETTER.search(word)]


def _is_prose(word: str) -> bool:
    """Whether `word` is one of a sentence's ("ok", "Where", "don't") rather than a name
    ("SLACK_APP_TOKEN", "API", "config.toml", "--port", "v2.3", "useEffect")."""
    core = word.strip(_SENTENCE_MARKS)
    if len(core) == 1:
        return core.isalpha()
    return all(part.isalpha() for part in re.split(r"['’-]", core)) and core[1:].islower()


_SENTENCE_MARKS = ".,;:!?…\"'“”‘’()[]"


def _nfkc_pattern(pattern: str, flags: int = 0) -> Callable[[], re.Pattern[str]]:
    """A pattern for text that is NFKC-normalised before it is matched, normalised the same
    way: NFKC turns the jamo people type alone (ㅎㅎ, ㅇㅋ) into other code points, which a
    pattern spelled with the typed ones would never match."""
    return lazy_pattern(unicodedata.normalize("NFKC", pattern), flags)


_EN_QUESTION_START = lazy_pattern(
    r"^(how|what|why|when|where|who|whom|whose|which|can|could|would|should|shall|will|do|does|did|"
    r"is|are|was|were|am|have|has|any|anyone|anybody|is there|are there|help|please help)\b",
    re.IGNORECASE,
)
_EN_PROBLEM = lazy_pattern(
    r"\b(can'?t|cannot|couldn'?t|won'?t|doesn'?t work|does not work|not working|isn'?t working|"
    r"error|errors|fails?|failed|failing|broken|broke|crash(?:es|ed)?|stuck|issue|problem|trouble|unable|"
    r"how to|still\s+(?:not|no|doesn'?t|isn'?t|can'?t|fails?|broken|happening|the\s+same)|not\s+fixed|"
    r"wondering|help me|need help)\b",
    re.IGNORECASE,
)
_KO_QUESTION = _nfkc_pattern(
    r"(까요|나요|가요|니까|습니까|는지|은지|을까|인가|인지|한가요|죠|ㄴ가요|어떻게|어떡|왜|무엇|뭐|뭔가|뭘|"
    r"언제|어디|누가|누구|몇|방법|안\s?돼|안\s?되|안됨|오류|에러|문제|도와|알려|궁금|모르겠|하려면|되려면)"
)


def looks_like_question(text: str) -> bool:
    """Onyx-style filter for auto-answer channels: answer questions, not chatter."""
    stripped = unicodedata.normalize("NFKC", text).strip()
    if len(stripped) < 6:
        return False
    if "?" in stripped:
        return True
    if _KO_QUESTION().search(stripped):
        return True
    return bool(_EN_QUESTION_START().match(stripped) or _EN_PROBLEM().search(stripped))


_EN_HUMAN = lazy_pattern(
    r"\b((talk|speak|chat|connect\s+me)\s+(to|with)\s+(a\s+|an\s+|some\s+)?"
    r"(human|person|people|someone|somebody|agent|staff|support|representative|rep|real\s+person|"
    r"live\s+agent|team\s+member|moderator|admin)|"
    r"(real|actual|live)\s+(human|person|agent)|human\s+(please|pls|agent|support|help)|"
    r"(need|want)\s+(a|an)\s+(human|person|agent)|(please\s+)?escalate\s+this|"
    r"escalate\s+(me|it)\s+to\s+(a|an|the)\s+(human|person|team|agent))",
    re.IGNORECASE,
)
# a question *about* reaching people ("how can my users talk to a human?") is a question
# for the documentation, not a request: someone other than the asker is the subject
_ABOUT_OTHERS = lazy_pattern(
    r"\b(my|our|the|their|your)\s+(users?|customers?|members?|people|community|team|staff|visitors?)\s+"
    r"(can|could|should|will|would|to|talk|speak|reach|get|ask)\b|\b(users?|customers?|members?)\s+(can|could)\b",
    re.IGNORECASE,
)
_KO_HUMAN = lazy_pattern(
    r"(상담원|상담사|담당자|사람\s*(이랑|하고|과|한테|에게)?\s*(얘기|이야기|대화|상담|연결|말하)|"
    r"직원\s*(분|이랑|하고|과|한테|에게)?\s*(연결|얘기|이야기|대화|상담|불러)|사람\s*불러|사람\s*연결|"
    r"사람이\s*(답|대답|봐)|진짜\s*사람)"
)


def wants_human(text: str) -> bool:
    """The asker asked for a person, in English or Korean."""
    normal = unicodedata.normalize("NFKC", text)
    if _ABOUT_OTHERS().search(normal):
        return False
    return bool(_EN_HUMAN().search(normal) or _KO_HUMAN().search(normal))


_EN_ALL_SET = lazy_pattern(
    r"\b(i'?m|i\s+am|we'?re|we\s+are)\s+(all\s+)?(set(?!\s+up)|sorted|good\s+now|done\s+here)\b"
    r"|\b(that|this|it)\s+(solved|fixed|answered)\s+it\b|\bproblem\s+solved\b|\bno\s+longer\s+need\s+help\b"
    r"|\b(you\s+can|please)\s+close\s+(this|the\s+ticket|it)\b",
    re.IGNORECASE,
)
_KO_ALL_SET = lazy_pattern(r"(해결\s*(됐|되었|했|완료)|이제\s*(됐|괜찮)|다\s*됐|문제\s*없어)")
# what makes such words something other than "it is solved": a question ("해결됐나요?"), the
# solution denied ("해결 완료가 아니에요", "not fixed"), or the problem back or still there
# ("that fixed it, but it's back", "해결됐었는데 다시 안 돼요")
_NOT_ALL_SET = _nfkc_pattern(
    r"\?|\b(but|still|again|back|however|yet|not|isn'?t|wasn'?t|doesn'?t|didn'?t|won'?t|can'?t)\b"
    r"|(나요|까요|니까|을까|ㄹ까|었나|했나|됐나|되나|는지)\s*\W*$"
    r"|아니|않|안\s*(돼|되|됨|됐)|다시|또\s|아직|지만|는데|은데|었는데|더니",
    re.IGNORECASE,
)


def says_all_set(text: str) -> bool:
    """The asker says their problem is solved, and only that: they may close their own ticket
    (and after it is resolved, it is thanks, not the problem back). A question, a denial, or
    the problem back or still there is not: closing a ticket on "해결됐나요?" ("is it solved?")
    ends the help the asker is waiting for."""
    normal = unicodedata.normalize("NFKC", text)
    if _EN_ALL_SET().search(normal) or _KO_ALL_SET().search(normal):
        return _NOT_ALL_SET().search(normal) is None
    # "that worked" only said outright: "that worked for the first server" is a problem report
    return _closing(normal) and _WORKED_SAID().search(normal) is not None


# 감사 with its everyday endings (감사드립니다 is as common as 감사합니다), and its jamo shorthands
_THANKS_WORDS = (
    r"thanks?|thank\s+you|thx|ty|tysm|cheers|much\s+appreciated"
    r"|감사\s*(합니다|해요|드립니다|드려요)|감사|고마워요|고맙습니다|고마워|ㄳ|ㄱㅅ"
)
_THANKS = _nfkc_pattern(
    rf"^\W*({_THANKS_WORDS})(\s+(so\s+much|a\s+lot|again|all))?[\W\s]*[!.~ㅎㅋ^]*\s*$", re.IGNORECASE
)
# Said of something done ("that worked", "됐어요") or with "now": a bare present ("that works
# for me", "됩니다") is as often a yes to staff ("can I call you at 3?"), which closes nothing
_WORKED = (
    r"(that|this|it)\s+(worked|did\s+it|did\s+the\s+trick)"
    r"|((that|this|it)\s+)?works\s+(now|perfectly|like\s+a\s+charm)"
    r"|((it'?s|it\s+is)\s+)?working\s+(now|perfectly)"
    r"|(이제|잘|다)\s*(됩니다|돼요|작동(해요|합니다))"
    r"|(이제|잘|다)?\s*((됐|되었)(어요|습니다|네요)|되네요|작동하네요)"
    r"|해결\s*(됐|되었|했)(어요|습니다|네요)"
)
# what a thank-you may be said with: the bare present too ("that works, thanks" asks nothing),
# and the one words that say it is over ("Solved, thanks!"), which alone may be something else
# ("fixed" as a reply to "fixed or floating price?")
_WORKED_WITH_THANKS = (
    rf"{_WORKED}|((that|this|it)\s+)?works|(됩니다|돼요|작동(해요|합니다))"
    r"|solved|fixed|resolved|sorted|all\s+good|got\s+it\s+working"
)
_AROUND = (
    r"oh|ah|wow|ok(ay)?|yes|yep|yeah|perfect|great|awesome|excellent|amazing|brilliant|wonderful|fantastic"
    r"|nice|cool|sweet|lovely|got\s+it|(that'?s|that\s+is|this\s+is)\s+(perfect|great|awesome|it)"
    r"|(that\s+)?helped|(very\s+|super\s+|really\s+)?helpful|정말|진짜|너무|아+|오+|네+|넵|덕분에"
    r"|완벽해요|최고(예요|에요)?|좋아요|좋네요"
)
# the words a message that closes the loop is made of, and nothing else: thanks, "it works
# now", and the few words said around them ("Perfect, thanks!", "됐어요 감사합니다"). Made of
# them alone, so a question or a problem said with thanks is never one
_PART = (
    rf"(({_THANKS_WORDS})(\s+(so\s+much|a\s+lot|very\s+much|all))?"
    rf"|({_WORKED_WITH_THANKS})(\s+(now|perfectly|great|fine|for\s+me|like\s+a\s+charm))*|{_AROUND})"
)
_CLOSING = _nfkc_pattern(rf"^\W*{_PART}([\W_]+{_PART})*[\W\s]*[ㅎㅋ^~]*[\W\s]*$", re.IGNORECASE)
_CLOSING_CHARS = 120  # a thank-you with a few words around it; longer says something more
_THANKS_SAID = _nfkc_pattern(rf"\b({_THANKS_WORDS})\b", re.IGNORECASE)
_WORKED_SAID = _nfkc_pattern(rf"(^|\W)({_WORKED})", re.IGNORECASE)


def _closing(normal: str) -> bool:
    """`normal` (NFKC) is made only of thanks, "it works now" and the words around them, and
    asks or denies nothing (_NOT_ALL_SET)."""
    return (
        len(normal) <= _CLOSING_CHARS
        and _CLOSING().match(normal.strip()) is not None
        and _NOT_ALL_SET().search(normal) is None
    )


def is_thanks(text: str) -> bool:
    """A thank-you, bare or with a few words around it ("Thanks, that worked!", "Perfect,
    thanks!"): acknowledged, never treated as a new question."""
    normal = unicodedata.normalize("NFKC", text).strip()
    if _THANKS().match(normal):
        return True
    return _closing(normal) and _THANKS_SAID().search(normal) is not None


_ACK = _nfkc_pattern(
    r"^\W*(ok(ay)?|k|kk|got\s+it|alright|all\s+right|sure|cool|great|nice|perfect|awesome|excellent|noted|understood|i\s+see|"
    r"(네+|넵|예)?\s*(알겠(습니다|어요|어)|확인(했습니다|했어요)?|ㅇㅋ|오케이|좋아요|넹|ㅇㅇ)|네+|넵|예)[\W\s]*$",
    re.IGNORECASE,
)


def is_acknowledgement(text: str) -> bool:
    """ "ok", "got it", "네 알겠습니다": noted in the thread, never a reason to ping anyone."""
    normal = unicodedata.normalize("NFKC", text).strip()
    return not normal or bool(_ACK().match(normal)) or all(not ch.isalnum() for ch in normal)
