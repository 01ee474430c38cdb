"""The dashboard's two languages: which one a viewer gets (their browser's Accept-Language,
English unless Korean is preferred), and the Korean text of every English UI string.

Templates write English and wrap it: `{{ t("Tickets") }}`. English is the key, so a string
with no Korean entry still reads correctly; a test (tests/bot/dashboard/test_i18n.py) checks
that every string the templates wrap has one. Page modules keep their Korean entries in
their own block of `KOREAN` below, so two pages never edit the same lines.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum


class Locale(StrEnum):
    EN = "en"
    KO = "ko"


def locale_of(accept_language: str | None) -> Locale:
    """The viewer's language: the highest-weighted of en/ko in Accept-Language (RFC 9110
    §12.5.4), English when neither appears or the header is malformed."""
    best, best_q = Locale.EN, -1.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in (Locale.EN, Locale.KO):
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if not 0.0 < q <= 1.0:
            continue
        if q > best_q:  # strictly: the earlier of two equal tags wins, as the browser ranked it
            best, best_q = Locale(primary), q
    return best


def translator(locale: Locale) -> Callable[[str], str]:
    """`t` for templates: the Korean text when the viewer reads Korean, else the English."""
    if locale == Locale.KO:
        return lambda text: KOREAN.get(text, text)
    return lambda text: text


KOREAN: dict[str, str] = {
    # -- layout (base.html), sign-in, refusals --------------------------------------------
    "Support dashboard": "지원 대시보드",
    "Skip to content": "본문으로 건너뛰기",
    "Main": "주 메뉴",
    "Overview": "개요",
    "Tickets": "티켓",
    "Audit log": "감사 로그",
    "Signed in as": "로그인 사용자",
    "Sign out": "로그아웃",
    # -- overview -------------------------------------------------------------------------
    # -- tickets --------------------------------------------------------------------------
    # -- drafts ---------------------------------------------------------------------------
    # -- gaps -----------------------------------------------------------------------------
    # -- knowledge ------------------------------------------------------------------------
    # -- sign-in with Slack / Discord -----------------------------------------------------
}
