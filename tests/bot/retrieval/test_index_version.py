"""An index written by another schema version is rebuilt as an upgrade, not reported as damage."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.retrieval.index import SCHEMA_VERSION, VERSION_FILE, SearchIndex


def test_an_index_of_an_older_schema_is_rebuilt_with_an_upgrade_note(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = SearchIndex(tmp_path / "tantivy")
    assert (tmp_path / "tantivy" / VERSION_FILE).read_text() == SCHEMA_VERSION
    del first
    (tmp_path / "tantivy" / VERSION_FILE).write_text("1")  # as an older release left it
    with caplog.at_level(logging.INFO, logger="bot.retrieval.index"):
        again = SearchIndex(tmp_path / "tantivy")
    assert again.size == 0
    assert any(
        "format changed (1 -> " in r.getMessage() and r.levelno == logging.INFO for r in caplog.records
    )
    assert not any(r.levelno >= logging.WARNING for r in caplog.records)
    assert (tmp_path / "tantivy" / VERSION_FILE).read_text() == SCHEMA_VERSION


def test_an_index_of_this_schema_is_reused_quietly(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    SearchIndex(tmp_path / "tantivy")
    with caplog.at_level(logging.INFO, logger="bot.retrieval.index"):
        SearchIndex(tmp_path / "tantivy")
    assert caplog.records == []
