"""Why the dashboard refuses: every reason a refusal page gives besides the default (no rights,
written in refused.html), in English: the key of its Korean text in i18n.py, which
tests/bot/dashboard/test_i18n.py checks for each of them."""

from __future__ import annotations

from enum import StrEnum


class Refusal(StrEnum):
    NO_CSRF = "The form was missing its security token."
    DRAFTS_ADMIN = "Knowledge drafts are for admins."
    KNOWLEDGE_ADMIN = "The knowledge page is for admins of every workspace."
    AUDIT_ADMIN = "The audit log is for admins of every workspace."
    SETTINGS_ADMIN = "The settings page is for admins of every workspace."
    OVERVIEW_WORKSPACE = (
        "Your rights cover some workspaces only, and a sign-in link does not say which is yours: "
        "sign in with Slack or Discord to see your workspace's figures. Tickets and gaps are in the menu."
    )
    ASSIGN_ADMIN = "Only admins can assign tickets."
    APPROVE_STANDALONE = (
        "Approving works only while the dashboard runs inside supportbot run: "
        "the new document is indexed by the bot that answers from it."
    )
    GAPS_STANDALONE = "Gap actions work only while the dashboard runs inside supportbot run."
    REINDEX_STANDALONE = (
        "Reindexing works only while the dashboard runs inside supportbot run: "
        "the running bot owns the index (or run supportbot index)."
    )
    TICKETS_STANDALONE = (
        "Ticket actions work only while the dashboard runs inside supportbot run, "
        "so that the chat thread is updated."
    )
