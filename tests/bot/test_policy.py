"""Pure decisions: when to speak, who is staff or admin, what a text is asking for."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import policy
from bot.channel_types import ChannelMode, DocVisibility, Visibility
from bot.config import Settings, load_settings
from bot.policy import Act
from bot.store import ConversationState
from bot.types import Author, ConversationRef, InboundMessage


def _settings(tmp_path: Path, toml: str = "") -> Settings:
    config = tmp_path / "supportbot.toml"
    config.write_text(toml, encoding="utf-8")
    return load_settings(config=config, env={})


def _message(text: str = "How do I reset my password?", **kw: object) -> InboundMessage:
    values: dict[str, object] = {
        "id": "1",
        "conversation": ConversationRef(platform="slack", workspace="T", channel="C1"),
        "author": Author(id="U1", name="Ann"),
        "text": text,
        "addressed": False,
        "visibility": Visibility.INTERNAL,
        "sent_at": datetime(2026, 1, 1, tzinfo=UTC),
    }
    values.update(kw)
    return InboundMessage(**values)  # type: ignore[arg-type]


def _state(**kw: bool) -> ConversationState:
    return ConversationState(
        key="k",
        asker_id="U1",
        bot_participating=kw.get("bot", False),
        human_takeover=kw.get("takeover", False),
    )


def test_bots_and_edits_are_ignored_even_when_addressed() -> None:
    bot_author = Author(id="B", is_bot=True)
    assert (
        policy.should_respond(
            _message(author=bot_author, addressed=True), mode=ChannelMode.AUTO_ANSWER, state=None, staff=False
        ).act
        == Act.IGNORE
    )
    assert (
        policy.should_respond(
            _message(edited=True, addressed=True), mode=ChannelMode.AUTO_ANSWER, state=None, staff=False
        ).act
        == Act.IGNORE
    )


def test_channel_off_silences_even_mentions() -> None:
    decision = policy.should_respond(_message(addressed=True), mode=ChannelMode.OFF, state=None, staff=False)
    assert decision.act == Act.IGNORE


def test_mention_only_channel_needs_a_mention() -> None:
    assert (
        policy.should_respond(_message(), mode=ChannelMode.MENTION_ONLY, state=None, staff=False).act
        == Act.IGNORE
    )
    assert (
        policy.should_respond(
            _message(addressed=True), mode=ChannelMode.MENTION_ONLY, state=None, staff=False
        ).act
        == Act.RESPOND
    )


def test_auto_answer_answers_questions_not_chatter() -> None:
    assert (
        policy.should_respond(
            _message("how do I reset my password"), mode=ChannelMode.AUTO_ANSWER, state=None, staff=False
        ).act
        == Act.RESPOND
    )
    assert (
        policy.should_respond(
            _message("lol nice, thanks all"), mode=ChannelMode.AUTO_ANSWER, state=None, staff=False
        ).act
        == Act.IGNORE
    )


def test_follow_ups_in_bot_threads_need_no_mention() -> None:
    msg = _message(
        "and for Discord?",
        conversation=ConversationRef(platform="slack", workspace="T", channel="C1", thread="9"),
    )
    assert (
        policy.should_respond(msg, mode=ChannelMode.MENTION_ONLY, state=_state(bot=True), staff=False).act
        == Act.RESPOND
    )


def test_staff_reply_takes_over_and_the_bot_goes_quiet_until_mentioned() -> None:
    thread = ConversationRef(platform="slack", workspace="T", channel="C1", thread="9")
    staff_msg = _message("I'll take this one", conversation=thread)
    assert (
        policy.should_respond(
            staff_msg, mode=ChannelMode.MENTION_ONLY, state=_state(bot=True), staff=True
        ).act
        == Act.TAKEOVER
    )
    follow_up = _message("thanks, still broken?", conversation=thread)
    taken = _state(bot=True, takeover=True)
    assert (
        policy.should_respond(follow_up, mode=ChannelMode.MENTION_ONLY, state=taken, staff=False).act
        == Act.IGNORE
    )
    mention = _message("bot, what do the docs say?", conversation=thread, addressed=True)
    assert (
        policy.should_respond(mention, mode=ChannelMode.MENTION_ONLY, state=taken, staff=False).act
        == Act.RESPOND
    )


@pytest.mark.parametrize(
    "text",
    [
        "Can I talk to a human?",
        "I want to speak with a real person",
        "human please",
        "connect me with an agent",
        "상담원 연결해 주세요",
        "사람이랑 얘기하고 싶어요",
        "담당자 불러주세요",
    ],
)
def test_requests_for_a_person(text: str) -> None:
    assert policy.wants_human(text)


@pytest.mark.parametrize(
    "text",
    [
        "How many people can join a workspace?",
        "What does the human resources page say?",
        "몇 사람까지 초대할 수 있나요?",
        "Can the bot answer in Korean?",
    ],
)
def test_not_requests_for_a_person(text: str) -> None:
    assert not policy.wants_human(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("비밀번호를 어떻게 바꾸나요?", "ko"),
        ("Slack 토큰은 어디에 넣나요", "ko"),
        ("How do I set SLACK_BOT_TOKEN?", "en"),
        ("", "en"),
        ("supportbot run 명령이 안 돼요", "ko"),
        # English names and errors inside a Korean sentence: each Korean word is short
        ("FastAPI에서 Depends를 쓰면 RuntimeError가 나요", "ko"),
        ("docker compose up 하면 connection refused 가 떠요", "ko"),
        (
            "'Invalid hook call. Hooks can only be called inside of the body of a function component' 에러가 떠요",
            "ko",
        ),
        # Korean only where the writer quotes it, or one Korean term in an English sentence
        ("How do I say '안녕하세요' in the greeting?", "en"),
        ("What does 설정 mean?", "en"),
        # a Korean passage that shows code
        (
            "설정 파일에 다음을 추가하세요.\n\n```python\nclient = Client(base_url=url, retry=RetryPolicy(max_attempts=5))\n```",
            "ko",
        ),
        ("`npm install --save-dev @types/react` 를 실행하세요", "ko"),
        # an error pasted without quotes into a Korean sentence, or under or over one: the
        # program's words, not the writer's (they used to outvote the Korean)
        (
            "supportbot run 하면 Error: SLACK_APP_TOKEN is not set, the app-level token for "
            "Socket Mode is required 에러가 나요",
            "ko",
        ),
        (
            "kubectl get pods 하니까 The connection to the server localhost:8080 was refused - "
            "did you specify the right host or port? 라고 나와요",
            "ko",
        ),
        (
            "npm install 했는데 npm ERR! code ERESOLVE npm ERR! unable to resolve dependency tree 이런 에러가 떠요",
            "ko",
        ),
        (
            "docker compose up -d 했더니 Error response from daemon: driver failed programming external "
            "connectivity on endpoint web: Bind for 0.0.0.0:80 failed: port is already allocated 가 떠요",
            "ko",
        ),
        (
            '배포하고 나서 이런 에러가 나요\nTraceback (most recent call last):\n  File "app.py", line 3, '
            "in <module>\n    main()\nKeyError: the token for the workspace is missing from the environment",
            "ko",
        ),
        # English that names Korean terms keeps its language, with one, or two far apart
        ("Where is the 설정 page, and how do I change the default language there?", "en"),
        ("Click 설정 then go to the page and click the button named 저장 to save it for everyone", "en"),
        ("Supported languages:\n- English\n- 한국어\n- Japanese", "en"),
    ],
)
def test_language_detection(text: str, expected: str) -> None:
    assert policy.detect_language(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # names, numbers and code alone: no word of the writer's own tells their language
        ("SLACK_APP_TOKEN?", None),
        ("v2.3 500?", None),
        ("`supportbot run --port 8080`", None),
        ("config.toml / useEffect / API", None),
        ("ok?", "en"),
        ("SLACK_APP_TOKEN은?", "ko"),
        ("Where is SLACK_APP_TOKEN?", "en"),
    ],
)
def test_a_text_of_names_alone_shows_no_language(text: str, expected: str | None) -> None:
    assert policy.language_shown(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm all set, thanks!", True),
        ("nevermind, I'm all set now", True),
        ("That solved it", True),
        ("you can close this", True),
        ("해결됐어요 감사합니다", True),
        ("이제 됐어요!", True),
        ("문제 없어요", True),
        # a question, a denial, the problem back or still there
        ("해결됐나요?", False),
        ("해결됐나요", False),
        ("해결 완료가 아니에요", False),
        ("해결됐었는데 오늘 다시 안 돼요", False),
        ("I'm all set up but the webhook still fails", False),
        ("I thought that fixed it, but the error is back today", False),
        ("Is the problem solved?", False),
    ],
)
def test_says_all_set_only_when_it_is_said(text: str, expected: bool) -> None:
    assert policy.says_all_set(text) is expected


@pytest.mark.parametrize("text", ["감사합니다 ㅎㅎ", "고마워요ㅎㅎ", "감사합니다ㅋㅋ", "thanks!"])
def test_thanks_with_korean_laughter_is_thanks(text: str) -> None:
    # typed ㅎ/ㅋ are compatibility jamo, which the NFKC the text goes through turns into others
    assert policy.is_thanks(text)


# (text, is thanks, says all set). Swallowing a question or a problem as thanks costs the asker
# their answer, so the second half matters more than the first
THANKS_AND_ALL_SET = [
    ("Thanks, that worked!", True, True),
    ("That worked, thank you!", True, True),
    ("Perfect, thanks!", True, False),
    ("Awesome, thank you so much :)", True, False),
    ("Great, that did the trick. Thanks!", True, True),
    ("It works now, thanks a lot", True, True),
    ("working now, thx", True, True),
    ("That worked perfectly for me", False, True),
    ("ok thanks", True, False),
    ("thanks!", True, False),
    ("감사합니다, 해결됐어요!", True, True),
    ("됐어요 감사합니다", True, True),
    ("잘 됩니다 감사해요", True, True),
    ("정말 감사합니다!", True, False),
    ("덕분에 해결했어요 감사합니다", True, True),
    # the everyday ways of saying it is over, with thanks: they were new questions, each
    # answered "I couldn't find a reliable answer" with a ticket paging staff
    ("Solved, thanks!", True, False),
    ("fixed, thank you!", True, False),
    ("resolved, thanks", True, False),
    ("all good now, thank you", True, False),
    ("Got it working, thanks!", True, False),
    ("감사드립니다", True, False),
    ("정말 감사드려요", True, False),
    ("ㄳ", True, False),
    # questions and problems said with thanks or "it worked"
    ("fixed? thanks", False, False),
    ("not fixed, thanks", False, False),
    ("still not solved", False, False),
    ("fixed", False, False),  # "fixed or floating price?"
    ("sorted by date, thanks", False, False),
    ("resolved, thanks, but it is back today", False, False),
    ("감사드립니다 그런데 비밀번호는 어떻게 바꾸나요", False, False),
    ("thanks! how do I also reset my API key?", False, False),
    ("thanks, how do I also reset my API key", False, False),
    ("Thanks, that worked. Now how do I export my data", False, False),
    ("thanks for the quick reply, one more question: can I export?", False, False),
    ("thanks, that worked but now the webhook fails", False, False),
    ("it worked yesterday but now it fails", False, False),
    ("That worked for the first server but not the second", False, False),
    ("That worked?", False, False),
    ("Thanks to the update my login fails", False, False),
    ("thanks anyway, it is still broken", False, False),
    ("thanks, still broken?", False, False),
    ("Perfect audio sync stops after an hour", False, False),
    ("It works on Chrome", False, False),
    ("That works for me", False, False),  # a yes to "can I call you at 3?"
    ("that works, thanks", True, False),
    ("됩니다", False, False),
    ("결제가 두 번 됐어요 감사합니다", False, False),
    ("됐었는데 다시 안 돼요 감사합니다", False, False),
    ("감사합니다 그런데 비밀번호는 어떻게 바꾸나요", False, False),
    ("해결됐나요? 감사합니다", False, False),
]


@pytest.mark.parametrize(("text", "thanks", "all_set"), THANKS_AND_ALL_SET)
def test_thanks_and_all_set_said_around_other_words(text: str, thanks: bool, all_set: bool) -> None:
    """ "Thanks, that worked!" and "Perfect, thanks!" used to be neither: answered as a new
    question, they opened a ticket paging staff. Only thanks and "it works now" may be said
    around them: any question or problem makes the message what it always was."""
    assert (policy.is_thanks(text), policy.says_all_set(text)) == (thanks, all_set)


@pytest.mark.parametrize("text", ["ㅇㅋ", "네 ㅇㅋ", "ㅇㅇ", "got it", "Perfect!"])
def test_korean_okay_in_jamo_is_an_acknowledgement(text: str) -> None:
    assert policy.is_acknowledgement(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("How do I export data", True),
        ("export is broken", True),
        ("내보내기가 안 돼요", True),
        ("환불 방법 알려주세요", True),
        ("good morning team", False),
        ("ok", False),
        ("오늘 점심 맛있었다", False),
        ("Is SSO supported", True),
    ],
)
def test_looks_like_question(text: str, expected: bool) -> None:
    assert policy.looks_like_question(text) is expected


def test_staff_and_admins_come_from_settings(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        '[slack]\nstaff_groups=["S1"]\nadmin_users=["U9"]\n[discord]\nstaff_roles=["r1"]\nadmin_roles=["r2"]\n'
        "manage_server_is_admin = false\n",
    )
    assert policy.is_staff(Author(id="U1", roles=frozenset({"S1"})), "slack", settings)
    assert not policy.is_staff(Author(id="U1"), "slack", settings)
    assert policy.is_admin(Author(id="U9"), "slack", settings)
    assert policy.is_admin(Author(id="U2", platform_admin=True), "slack", settings)  # workspace admin
    assert not policy.is_admin(Author(id="U2", platform_admin=True), "discord", settings)  # disabled above
    assert policy.is_admin(Author(id="U3", roles=frozenset({"r2"})), "discord", settings)
    assert policy.is_staff(Author(id="U4", roles=frozenset({"r1"})), "discord", settings)


def test_a_tickets_channel_and_tag_staff_are_routed_to_it_and_staff_nowhere_else(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        '[slack]\nstaff_groups=["S1"]\n[slack.channels.C-BILLING]\nstaff_users=["U-LEAD"]\n'
        '[escalation.tags.billing]\nslack_staff_groups=["S-BILLING"]\n',
    )
    lead, team = Author(id="U-LEAD"), Author(id="U-B", roles=frozenset({"S-BILLING"}))
    billing = ConversationRef(platform="slack", workspace="T", channel="C-BILLING", thread="1.1")
    general = ConversationRef(platform="slack", workspace="T", channel="C-GEN", thread="2.2")
    assert policy.is_routed_staff(lead, settings, billing, ())
    assert not policy.is_routed_staff(lead, settings, general, ())  # another channel's ticket
    assert policy.is_routed_staff(team, settings, general, ("billing",))
    assert not policy.is_routed_staff(team, settings, general, ("refunds",))
    assert not policy.is_routed_staff(
        Author(id="U-X", roles=frozenset({"S1"})), settings, billing, ("billing",)
    )
    assert not policy.is_staff(lead, "slack", settings, "T") and not policy.is_staff(
        team, "slack", settings, "T"
    )


def test_public_channels_only_see_public_documents(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, '[slack.channels.CPUB]\nvisibility="public"\n[slack.channels.CINT]\nvisibility="internal"\n'
    )
    ref = ConversationRef(platform="slack", workspace="T", channel="CPUB")
    assert policy.document_scope(settings, ref, Visibility.INTERNAL) == DocVisibility.PUBLIC
    internal = ConversationRef(platform="slack", workspace="T", channel="CINT")
    assert policy.document_scope(settings, internal, Visibility.INTERNAL) == DocVisibility.INTERNAL
    # the platform says the channel is shared outside the team: config cannot widen it
    assert policy.document_scope(settings, internal, Visibility.PUBLIC) == DocVisibility.PUBLIC
    discord = ConversationRef(platform="discord", workspace="G", channel="1")
    assert policy.document_scope(settings, discord, Visibility.PUBLIC) == DocVisibility.PUBLIC
    assert policy.document_scope(settings, discord, Visibility.DIRECT) == DocVisibility.PUBLIC


def test_channel_modes(tmp_path: Path) -> None:
    settings = _settings(tmp_path, '[discord]\nforum_channels=["F1"]\n[discord.channels."5"]\nmode="off"\n')
    assert (
        policy.channel_mode(
            settings, ConversationRef(platform="discord", workspace="G", channel="F1"), Visibility.PUBLIC
        )
        == ChannelMode.AUTO_ANSWER
    )
    assert (
        policy.channel_mode(
            settings, ConversationRef(platform="discord", workspace="G", channel="5"), Visibility.PUBLIC
        )
        == ChannelMode.OFF
    )
    assert (
        policy.channel_mode(
            settings, ConversationRef(platform="discord", workspace="dm", channel="7"), Visibility.DIRECT
        )
        == ChannelMode.AUTO_ANSWER
    )
