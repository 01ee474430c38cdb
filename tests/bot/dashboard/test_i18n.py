"""The dashboard's language choice and its Korean catalogue."""

from __future__ import annotations

import re
import string
from html.parser import HTMLParser

import pytest

from bot.app import Runtime
from bot.dashboard.context import TEMPLATES
from bot.dashboard.i18n import KOREAN, Locale, locale_of, translator
from bot.dashboard.notices import Notice
from bot.dashboard.refusals import Refusal
from tests.bot.dashboard.served import Client
from tests.bot.dashboard.test_dashboard import link_token, sign_in
from tests.fakes.clock import FakeClock

WRAPPED = re.compile(r"""\bt\(\s*(?:"([^"]*)"|'([^']*)')\s*\)""")
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)  # expressions, statements, comments
WORD = re.compile(r"[A-Za-z]{2,}")
PROGRAM = re.compile(r"\bsupportbot\b")  # a name: the Korean writes it as is ("supportbot run")
READ_OUT = {"aria-label", "title", "placeholder", "alt"}  # attributes shown or read to a person
AS_TYPED = {"code", "pre", "script", "style"}  # commands and code: the same in every language


class _Unwrapped(HTMLParser):
    """The English a template shows a person that no `t()` can translate: words in its text
    and in the attributes a screen reader or tooltip gives, once every Jinja tag (each
    `{{ t(...) }}` among them) is taken out; code is left as typed."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._as_typed = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._as_typed += tag in AS_TYPED
        self.found += [value for name, value in attrs if name in READ_OUT and _english(value or "")]

    def handle_endtag(self, tag: str) -> None:
        self._as_typed -= tag in AS_TYPED

    def handle_data(self, data: str) -> None:
        if not self._as_typed and _english(data):
            self.found.append(data.strip())


def _english(text: str) -> bool:
    return bool(WORD.search(PROGRAM.sub("", text)))


def unwrapped(template: str) -> list[str]:
    parser = _Unwrapped()
    parser.feed(JINJA.sub(" ", template))
    parser.close()
    return parser.found


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, Locale.EN),
        ("", Locale.EN),
        ("ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7", Locale.KO),
        ("en-US,en;q=0.9,ko;q=0.8", Locale.EN),
        ("fr-FR,ko;q=0.5", Locale.KO),
        ("de,fr", Locale.EN),
        ("en;q=0.2,ko;q=0.8", Locale.KO),
        ("ko;q=0,en;q=0.1", Locale.EN),
        ("ko;q=banana", Locale.EN),
        ("ko, en", Locale.KO),
        (";;,,=", Locale.EN),
    ],
)
def test_the_viewer_gets_the_language_their_browser_prefers(header: str | None, expected: Locale) -> None:
    assert locale_of(header) == expected


def test_every_string_a_template_wraps_has_its_korean() -> None:
    wrapped = {
        a or b
        for path in TEMPLATES.glob("*.html")
        for a, b in WRAPPED.findall(path.read_text(encoding="utf-8"))
    }
    assert "Tickets" in wrapped  # the scan itself sees the templates' strings
    missing = sorted(text for text in wrapped if text not in KOREAN)
    assert missing == []


def test_the_scan_sees_english_left_outside_t() -> None:
    page = '<h1>{{ t("Tickets") }} #{{ n }}</h1><p>Saved as {{ x }}</p><nav aria-label="Main">'
    assert unwrapped(page + "<code>supportbot run</code></nav>") == ["Saved as", "Main"]
    assert unwrapped('<title>{% block title %}{{ t("Gap") }}{% endblock %} · supportbot</title>') == []


@pytest.mark.parametrize("template", sorted(path.name for path in TEMPLATES.glob("*.html")))
def test_no_template_shows_english_outside_t(template: str) -> None:
    # words a template writes as they are read the same to a Korean viewer: each is wrapped
    assert unwrapped((TEMPLATES / template).read_text(encoding="utf-8")) == []


def _places(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_every_status_line_the_dashboard_writes_has_its_korean_with_the_same_values() -> None:
    missing = [notice.name for notice in Notice if notice.value not in KOREAN]
    assert missing == []
    differing = [notice.name for notice in Notice if _places(KOREAN[notice.value]) != _places(notice.value)]
    assert differing == []


def test_english_is_the_key_and_the_fallback() -> None:
    assert translator(Locale.KO)("Tickets") == KOREAN["Tickets"]
    assert translator(Locale.KO)("a string nobody translated") == "a string nobody translated"
    assert translator(Locale.EN)("Tickets") == "Tickets"


def test_every_refusal_has_its_korean() -> None:
    missing = [refusal.name for refusal in Refusal if refusal.value not in KOREAN]
    assert missing == []


async def test_the_signin_page_and_the_audit_log_read_in_korean(
    rt: Runtime, clock: FakeClock, client: Client
) -> None:
    korean = {"Accept-Language": "ko-KR,ko;q=0.9"}
    token = link_token(rt, clock, "U-ADMIN")
    page = await (await client.get(f"/admin/signin?token={token}", headers=korean)).text()
    assert "대시보드에 로그인" in page and "이 링크는 한 번만 쓸 수 있습니다." in page
    failed = await client.post("/admin/signin", data={"token": "made-up"}, headers=korean)
    assert failed.status == 403 and "유효하지 않은 로그인 링크입니다." in await failed.text()
    assert await sign_in(client, token) == 302
    audit = await (await client.get("/admin/audit", headers=korean)).text()
    assert "<h1>감사 로그</h1>" in audit and "대시보드에서 한 모든 변경 (최신 순)" in audit


async def test_a_refusal_reads_in_the_viewers_language(rt: Runtime, clock: FakeClock, client: Client) -> None:
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302  # staff, not an admin
    page = await client.get("/admin/audit", headers={"Accept-Language": "ko-KR,ko;q=0.9"})
    assert page.status == 403
    text = await page.text()
    assert KOREAN[Refusal.AUDIT_ADMIN] in text and Refusal.AUDIT_ADMIN.value not in text
    english = await client.get("/admin/audit")
    assert Refusal.AUDIT_ADMIN.value in await english.text()
