"""`supportbot privacy ...` run as an admin runs it: a fresh process, from some folder."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.cli import app
from tests.bot.privacy.test_forget import KEPT, TOML, cells_containing, dump, populate
from tests.bot.test_cli import run_cli


def test_forget_from_the_wrong_folder_does_not_confirm_an_erasure(
    tmp_path: Path, knowledge_dir: Path
) -> None:
    """`privacy forget` from another folder (cron, a home directory) used to create a state.db
    there and say "Forgot console user you: 1 row(s) deleted or anonymised." (exit 0) while
    the person's data stayed where the bot keeps it. Now it says there is no state database,
    as `report` does, and creates nothing."""
    home, elsewhere = tmp_path / "srv", tmp_path / "home"
    home.mkdir()
    elsewhere.mkdir()
    chat = run_cli(
        "chat", "--knowledge", str(knowledge_dir), stdin="my card is lost, refund?\nquit\n", cwd=home
    )
    assert chat.returncode == 0, chat.stderr
    exported = run_cli("privacy", "export", "-p", "console", "-u", "you", cwd=home)
    assert json.loads(exported.stdout)["questions"], exported.stdout  # the person's data is there

    forgot = run_cli("privacy", "forget", "-p", "console", "-u", "you", "--yes", cwd=elsewhere)
    assert forgot.returncode == 2, forgot.stdout
    assert "no state database" in forgot.stderr and "Traceback" not in forgot.stderr
    assert not (elsewhere / ".supportbot").exists()
    still = run_cli("privacy", "export", "-p", "console", "-u", "you", cwd=home)
    assert json.loads(still.stdout)["questions"] == json.loads(exported.stdout)["questions"]


def test_export_and_purge_with_a_mistyped_data_dir_are_refused(tmp_path: Path) -> None:
    """`privacy export --data typo` used to print an empty record ("we hold nothing about you")
    from a state.db it had just made; `purge` "purged" 0 rows of it. Now both are refused."""
    typo = tmp_path / "typo"
    for command in (("export", "-p", "slack", "-u", "U0123"), ("purge",)):
        done = run_cli("privacy", *command, "--data", str(typo), cwd=tmp_path)
        assert done.returncode == 2, done.stdout
        assert "no state database" in done.stderr and "Traceback" not in done.stderr
        assert not typo.exists()


def test_export_into_a_new_folder_is_written_for_its_owner_alone(tmp_path: Path) -> None:
    """`privacy export -o exports/U0123.json` with no exports/ yet used to end in a
    FileNotFoundError traceback; the file it did write was readable by everyone on the machine
    (0644), a person's data. Now the folder is made and the file is the owner's alone (0600);
    a path that cannot be written is one line."""
    from bot.store import StateStore

    data = tmp_path / "data"
    StateStore(data / "state.db").close()
    target = tmp_path / "exports" / "U0123.json"
    done = run_cli("privacy", "export", "-p", "slack", "-u", "U0123", "--data", str(data), "-o", str(target))
    assert done.returncode == 0, done.stderr
    assert json.loads(target.read_text(encoding="utf-8"))["user_id"] == "U0123"
    assert target.stat().st_mode & 0o777 == 0o600
    (tmp_path / "blocked").write_text("a file, not a folder", encoding="utf-8")
    blocked = run_cli(
        "privacy",
        "export",
        "-p",
        "slack",
        "-u",
        "U0123",
        "--data",
        str(data),
        "-o",
        str(tmp_path / "blocked" / "x.json"),
    )
    assert blocked.returncode == 2 and "Traceback" not in blocked.stderr, blocked.stderr
    assert "cannot write" in blocked.stderr


async def test_forgetting_an_id_nothing_is_kept_of_does_not_report_an_erasure(
    make_runtime: Callable[..., Runtime],
) -> None:
    """`privacy forget` of a mistyped id (one digit off) used to list "tombstones 1" and say
    "1 row(s) deleted or anonymised", counting the tombstone it writes as an erasure, to an
    admin answering an erasure request. Now it says nothing was kept, and to check the id."""
    rt = make_runtime(TOML)
    await populate(rt, ConsoleChannel(io.StringIO()))
    typo = KEPT.id.replace("22", "23")
    result = CliRunner().invoke(
        app, ["privacy", "forget", "-p", "slack", "-u", typo, "--data", str(rt.settings.data_dir), "--yes"]
    )
    assert result.exit_code == 0, result.output
    assert "Nothing is kept about slack user U-KEEPME23" in result.output, result.output
    assert "row(s) deleted" not in result.output and "tombstones" not in result.output
    assert cells_containing(dump(rt.settings.data_dir / "state.db"), KEPT.id)  # Kim's data is all there
