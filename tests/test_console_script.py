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
