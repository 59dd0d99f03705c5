"""Many writers on one store, on SQLite and PostgreSQL: a hook's sync, a backfill and
exports at the same time all succeed, and the store ends as one process leaves it."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from gitrepo import Repo, cli, count, dump_store, fast_history, make_repo


def _indexer(*args: str | Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "indexer", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _history(tmp_path: Path) -> Repo:
    """240 commits on main; `old` marks the first 80, which are indexed beforehand so
    that an export of them can run while the rest is being indexed."""
    repo = make_repo(tmp_path)
    fast_history(repo, 80, files=8, fns=20)
    repo.git("branch", "old")
    fast_history(repo, 160, files=8, fns=20)
    return repo


def test_a_hook_sync_a_backfill_and_exports_at_once(
    tmp_path: Path, new_store: Callable[[str], str]
) -> None:
    repo = _history(tmp_path)
    url = new_store("shared")
    assert cli("sync", "--rev", "old", "--repo", repo.path, "--db", url).exit_code == 0

    running = [
        _indexer("hook-run", "--type", "post-commit", "--repo", repo.path, "--db", url),
        _indexer("backfill", "--repo", repo.path, "--db", url),
        *(
            _indexer(
                "export", tmp_path / f"export-{n}", "--at", "old", "--repo", repo.path, "--db", url
            )
            for n in range(2)
        ),
    ]
    for proc in running:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{proc.args}: {err.decode()}"
        assert b"locked" not in out + err
    log = (repo.path / ".git" / "commit-indexer" / "hook.log").read_text()
    assert "post-commit: indexed" in log and "error" not in log, log

    clean = new_store("clean")
    assert cli("backfill", "--repo", repo.path, "--db", clean).exit_code == 0
    stored = dump_store(url)
    assert stored == dump_store(clean)  # no row twice, none missing
    assert len(stored["commits"]) == 240 and len(stored["examples"]) > 1000
    assert len({e[:5] for e in stored["examples"]}) == len(stored["examples"])
    fresh = tmp_path / "fresh"
    assert cli("export", fresh, "--at", "old", "--repo", repo.path, "--db", clean).exit_code == 0
    for n in range(2):
        assert _hashes(tmp_path / f"export-{n}") == _hashes(fresh)
    tokens = "SELECT count(*) FROM example_tokens"
    assert count(url, tokens) == count(clean, tokens)  # two exports cached each once
