"""The catalog is a cache: a damaged one is thrown away and rebuilt, never refused."""

from __future__ import annotations

from pathlib import Path

from bot.store import Catalog


def test_a_corrupt_catalog_is_rebuilt_because_it_is_a_cache(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    path.write_bytes(b"garbage" * 1000)
    catalog = Catalog(path)
    assert catalog.files() == {}
