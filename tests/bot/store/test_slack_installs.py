"""Slack installs and OAuth states in the state store (bot/store/slack_installs.py), on both backends."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.store import StateStore
from bot.store.slack_installs import SlackInstallRecord

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
TOKEN = "xoxb-" + "t222-secret"  # assembled: no token-shaped literal in the repo
LIMIT = 1000


def install(team: str, name: str, token: str, at: datetime = T0, enterprise: str = "") -> SlackInstallRecord:
    return SlackInstallRecord(
        team_id=team,
        enterprise_id=enterprise,
        team_name=name,
        bot_user_id=f"U{team}",
        installed_at=at,
        data={"team_id": team, "bot_token": token},
    )


def test_installs_are_kept_per_workspace_and_a_reinstall_replaces_the_token(state: Path | str) -> None:
    store = StateStore(state)
    try:
        store.save_slack_installation(install("T111", "One", "xoxb-" + "one"))
        store.save_slack_installation(install("T222", "Two", "xoxb-" + "old"))
        store.save_slack_installation(install("T222", "Two", TOKEN, T0 + timedelta(days=1)))
        found = store.slack_installation("", "T222")
        assert found is not None and found.data["bot_token"] == TOKEN
        assert TOKEN not in repr(found)  # a secret: never shown by a log line printing the record
        assert [r.team_id for r in store.slack_installations()] == ["T111", "T222"]
        assert store.slack_installation("", "T999") is None
        assert store.delete_slack_installation("", "T222") == 1
        assert store.slack_installation("", "T222") is None
    finally:
        store.close()


def test_an_oauth_state_is_consumed_once_and_only_before_it_expires(state: Path | str) -> None:
    one, two = StateStore(state), StateStore(state)  # two workers on the same state
    try:
        assert one.issue_oauth_state("s-1", T0 + timedelta(minutes=10), T0, LIMIT)
        assert one.issue_oauth_state("s-2", T0 + timedelta(minutes=10), T0, LIMIT)
        assert two.consume_oauth_state("s-1", T0)
        assert not one.consume_oauth_state("s-1", T0)  # single use, whichever worker asks
        assert not one.consume_oauth_state("forged", T0)
        assert not one.consume_oauth_state("s-2", T0 + timedelta(minutes=11))  # expired
    finally:
        one.close()
        two.close()


def test_starting_an_install_leaves_every_other_one_under_way(state: Path | str) -> None:
    one, two = StateStore(state), StateStore(state)  # two workers
    try:
        assert one.issue_oauth_state("state-A", T0 + timedelta(seconds=600), T0, LIMIT)
        later = T0 + timedelta(seconds=1)  # someone else opens the install page a second later
        assert two.issue_oauth_state("state-B", later + timedelta(seconds=600), later, LIMIT)
        assert one.consume_oauth_state("state-A", T0 + timedelta(seconds=30))
        assert one.consume_oauth_state("state-B", T0 + timedelta(seconds=31))
    finally:
        one.close()
        two.close()


def test_installs_under_way_are_bounded_without_cancelling_any(state: Path | str) -> None:
    store = StateStore(state)
    try:
        for n in range(3):
            assert store.issue_oauth_state(f"s-{n}", T0 + timedelta(minutes=10), T0, 3)
        # the newcomer is refused; the three started are not dropped for it
        assert not store.issue_oauth_state("s-3", T0 + timedelta(minutes=10), T0, 3)
        assert store.consume_oauth_state("s-0", T0 + timedelta(minutes=1))
        later = T0 + timedelta(minutes=2)
        assert store.issue_oauth_state("s-4", later + timedelta(minutes=10), later, 3)  # room again
        # once expired, the two never finished are swept and make room
        expired = T0 + timedelta(minutes=11)
        assert store.issue_oauth_state("s-5", expired + timedelta(minutes=10), expired, 3)
        assert store.issue_oauth_state("s-6", expired + timedelta(minutes=10), expired, 3)
        assert not store.issue_oauth_state("s-7", expired + timedelta(minutes=10), expired, 3)
        assert store.consume_oauth_state("s-4", expired)
    finally:
        store.close()


def test_a_workspace_of_an_organisation_is_served_by_the_org_wide_install(state: Path | str) -> None:
    store = StateStore(state)
    try:
        store.save_slack_installation(install("", "Org", "xoxb-" + "org", enterprise="E111"))
        store.save_slack_installation(install("T333", "Own", "xoxb-" + "own", enterprise="E111"))
        org = store.slack_installation("E111", "T222")  # no install of its own: the org's
        assert org is not None and org.data["bot_token"] == "xoxb-" + "org"
        assert store.slack_installation("E111", "") == org  # slack_sdk's is_enterprise_install lookup
        own = store.slack_installation("E111", "T333")  # its own install comes first
        assert own is not None and own.data["bot_token"] == "xoxb-" + "own"
        assert store.slack_installation("", "T222") is None  # the organisation is not guessed
        assert store.slack_installation("E999", "T222") is None
    finally:
        store.close()


def test_a_workspaces_organisation_is_kept_as_slack_last_named_it(state: Path | str) -> None:
    one, two = StateStore(state), StateStore(state)  # two workers
    try:
        assert one.slack_organisation("T222") == ""  # never named
        one.note_slack_organisation("T222", "E111")
        assert two.slack_organisation("T222") == "E111"  # what another worker learned
        two.note_slack_organisation("T222", "E222")  # the workspace moved to another organisation
        assert one.slack_organisation("T222") == "E222"
        assert one.slack_organisation("T333") == ""
    finally:
        one.close()
        two.close()


def test_workers_starting_installs_at_once_stay_within_the_bound(state: Path | str) -> None:
    stores = [StateStore(state) for _ in range(8)]  # eight workers, one connection each
    start = threading.Barrier(len(stores))
    issued: list[bool] = []

    def open_install_pages(n: int, store: StateStore) -> None:
        start.wait()
        for k in range(5):
            issued.append(store.issue_oauth_state(f"s-{n}-{k}", T0 + timedelta(minutes=10), T0, 5))

    workers = [threading.Thread(target=open_install_pages, args=(n, s)) for n, s in enumerate(stores)]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        [(live,)] = stores[0].db.execute("select count(*) from slack_oauth_states").fetchall()
        assert live == sum(issued) == 5
    finally:
        for store in stores:
            store.close()


def test_a_workspace_that_joined_an_organisation_since_it_installed_is_uninstalled_and_reinstalled(
    state: Path | str,
) -> None:
    """A workspace installed on its own (row ("", T222)) that later moved into organisation
    E111: Slack's uninstall names E111, and the delete by exact (enterprise, team) deleted
    nothing, leaving the revoked token in the database; a reinstall added a second row."""
    store = StateStore(state)
    try:
        store.save_slack_installation(install("T222", "Two", "xoxb-" + "old"))
        store.save_slack_installation(install("", "Org", "xoxb-" + "org", enterprise="E111"))
        assert store.delete_slack_installation("E111", "T222") == 1  # its own install, not the org's
        assert store.slack_installation("", "T222") is None
        assert [(r.enterprise_id, r.team_id) for r in store.slack_installations()] == [("E111", "")]
        # reinstalled alone, then again once in the organisation: one row, the newest token
        store.save_slack_installation(install("T222", "Two", "xoxb-" + "alone"))
        store.save_slack_installation(install("T222", "Two", TOKEN, T0 + timedelta(days=1), "E111"))
        mine = [r for r in store.slack_installations() if r.team_id == "T222"]
        assert [(r.enterprise_id, r.data["bot_token"]) for r in mine] == [("E111", TOKEN)]
        # the organisation's own install goes with its organisation and no team alone
        assert store.delete_slack_installation("E999", "") == 0
        assert store.delete_slack_installation("E111", "") == 1
        assert store.slack_installation("E111", "T222") is not None  # the workspace's own stays
    finally:
        store.close()
