"""The dashboard's language choice and its Korean catalogue."""

from __future__ import annotations

import re

import pytest

from bot.app import Runtime
from bot.dashboard.context import TEMPLATES
from bot.dashboard.i18n import KOREAN, Locale, locale_of, translator
from bot.dashboard.refusals import Refusal
from tests.bot.dashboard.served import Client
from tests.bot.dashboard.test_dashboard import link_token, sign_in
from tests.fakes.clock import FakeClock

WRAPPED = re.compile(r"""\bt\(\s*(?:"([^"]*)"|'([^']*)')\s*\)""")


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


def test_english_is_the_key_and_the_fallback() -> None:
    assert translator(Locale.KO)("Tickets") == KOREAN["Tickets"]
    assert translator(Locale.KO)("a string nobody translated") == "a string nobody translated"
    assert translator(Locale.EN)("Tickets") == "Tickets"


def test_every_refusal_has_its_korean() -> None:
    missing = [refusal.name for refusal in Refusal if refusal.value not in KOREAN]
    assert missing == []


async def test_a_refusal_reads_in_the_viewers_language(rt: Runtime, clock: FakeClock, client: Client) -> None:
    assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302  # staff, not an admin
    page = await client.get("/admin/audit", headers={"Accept-Language": "ko-KR,ko;q=0.9"})
    assert page.status == 403
    text = await page.text()
    assert KOREAN[Refusal.AUDIT_ADMIN] in text and Refusal.AUDIT_ADMIN.value not in text
    english = await client.get("/admin/audit")
    assert Refusal.AUDIT_ADMIN.value in await english.text()
