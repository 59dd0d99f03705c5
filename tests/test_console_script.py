"""The installed console script: its exit codes and output are the command's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gitrepo import make_repo


def test_the_installed_command_keeps_its_exit_codes_and_output(tmp_path: Path) -> None:
    command = Path(sys.executable).parent / "commit-indexer"
    missing = subprocess.run(
        [command, "stats", "--repo", tmp_path / "nowhere"], capture_output=True, text=True
    )
    assert missing.returncode == 2 and missing.stderr.startswith("error: ")
    repo = make_repo(tmp_path)
    repo.commit({"src/lib.rs": "pub struct Opts;\n"}, "Add opts")
    synced = subprocess.run(
        [command, "backfill", "--repo", repo.path], capture_output=True, text=True
    )
    assert synced.returncode == 0
    found = subprocess.run(
        [command, "symbols", "Opts", "--repo", repo.path], capture_output=True, text=True
    )
    assert found.returncode == 0 and "pub struct Opts;" in found.stdout


def test_help_version_and_a_wrong_option_end_as_they_should(tmp_path: Path) -> None:
    command = Path(sys.executable).parent / "commit-indexer"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([command, *args], capture_output=True, text=True, cwd=tmp_path)

    for args in (["--help"], ["-h"], ["stats", "--help"], ["export", "-h"], ["hook", "-h"]):
        shown = run(*args)
        assert shown.returncode == 0, (args, shown.stderr)
        assert "Usage" in shown.stdout and "internal error" not in shown.stderr
    # what the help texts say in brackets is shown, not read as markup
    helped = " ".join(run("backfill", "--help").stdout.split())
    assert "[default: SQLite in the git dir]" in helped and "[default: cores]" in helped
    assert "[default: a new temp dir]" in " ".join(run("demo", "-h").stdout.split())
    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("commit-indexer 0.")
    wrong = run("stats", "--bogus")
    assert wrong.returncode == 2 and "No such option" in wrong.stderr
    assert "internal error" not in wrong.stderr
