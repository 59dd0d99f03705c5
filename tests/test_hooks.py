"""Hooks end to end: install, real git commits feed the store in the background,
existing hooks keep running and come back on uninstall, and nothing breaks a commit."""

from __future__ import annotations

import os
import time
from pathlib import Path

import sqlalchemy as sa
from gitrepo import Repo, cli, count, db_url, file_hashes, wait_for, wait_idle

from indexer.watch import DEBOUNCE_SECONDS

LIB = "pub struct Config {\n    pub port: u16,\n}\n"


def test_commits_merges_and_amends_are_captured(repo: Repo) -> None:
    repo.commit({"src/lib.rs": LIB}, "start")
    result = cli("hook", "install", "--repo", repo.path)
    assert result.exit_code == 0, result.output
    assert "post-commit    installed" in result.output
    url = db_url(repo)
    repo.commit({"src/lib.rs": LIB.replace("u16", "u32")}, "wider port")
    assert wait_for(url, "SELECT count(*) FROM commits", 2) == 2  # the hook synced HEAD
    # the root commit added Config (one example), the next changed it (another)
    assert wait_for(url, "SELECT count(*) FROM examples", 2) == 2
    repo.git("checkout", "-q", "-b", "side")
    repo.commit({"src/side.rs": "pub fn side() {}\n"}, "side")
    repo.git("checkout", "-q", "main")
    repo.commit({"src/main.rs": "fn main() {}\n"}, "main")
    repo.git("merge", "-q", "--no-ff", "-m", "merge side", "side")
    assert wait_for(url, "SELECT count(*) FROM commits", 5) == 5
    repo.git("commit", "-q", "--amend", "-m", "merge side, amended")
    assert wait_for(url, "SELECT count(*) FROM commits", 6) == 6
    wait_idle(repo)
    # what the hooks fed holds every reachable commit ...
    assert cli("backfill", "--repo", repo.path).output.startswith("up to date")
    # ... and exports what a fresh backfill of the same history exports, byte for byte
    fresh = f"sqlite:///{repo.path.parent / 'fresh.db'}"
    assert cli("backfill", "--repo", repo.path, "--db", fresh).exit_code == 0
    for store, out in ((url, repo.path.parent / "hooked"), (fresh, repo.path.parent / "fresh")):
        result = cli("export", out, "--repo", repo.path, "--db", store)
        assert result.exit_code == 0, result.output
    assert file_hashes(repo.path.parent / "hooked") == file_hashes(repo.path.parent / "fresh")


def test_an_existing_hook_keeps_running_and_comes_back_byte_for_byte(repo: Repo) -> None:
    hooks = repo.path / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    mine = b'#!/bin/sh\necho ran >> "$(git rev-parse --git-dir)/mine.txt"\n'
    (hooks / "post-commit").write_bytes(mine)
    (hooks / "post-commit").chmod(0o755)
    first = cli("hook", "install", "--repo", repo.path)
    assert "post-commit    installed, runs post-commit.chained first" in first.output
    again = cli("hook", "install", "--repo", repo.path)  # installing twice changes nothing
    assert again.exit_code == 0 and (hooks / "post-commit.chained").read_bytes() == mine
    repo.commit({"src/lib.rs": LIB}, "one")
    assert (repo.path / ".git" / "mine.txt").read_text() == "ran\n"
    assert wait_for(db_url(repo), "SELECT count(*) FROM commits", 1) == 1
    wait_idle(repo)
    result = cli("hook", "uninstall", "--repo", repo.path)
    assert result.exit_code == 0, result.output
    assert (hooks / "post-commit").read_bytes() == mine
    assert os.access(hooks / "post-commit", os.X_OK)
    assert not (hooks / "post-commit.chained").exists()
    assert not (hooks / "post-merge").exists()


def test_core_hooks_path_is_where_hooks_go(repo: Repo) -> None:
    repo.git("config", "core.hooksPath", "my-hooks")
    assert cli("hook", "install", "--repo", repo.path).exit_code == 0
    assert (repo.path / "my-hooks" / "post-commit").exists()
    repo.commit({"src/lib.rs": LIB}, "one")
    assert wait_for(db_url(repo), "SELECT count(*) FROM commits", 1) == 1
    wait_idle(repo)


def test_a_broken_store_never_fails_a_commit(repo: Repo) -> None:
    store = repo.path / ".git" / "commit-indexer"
    store.mkdir(parents=True)
    (store / "index.db").write_bytes(b"not a database\n" * 100)
    assert cli("hook", "install", "--repo", repo.path).exit_code == 0
    start = time.monotonic()
    repo.commit({"src/lib.rs": LIB}, "one")  # raises if git commit fails
    assert time.monotonic() - start < 5
    wait_idle(repo)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = cli("hook", "status", "--repo", repo.path)
        if "is not a usable commit-indexer store" in status.output:
            break
        time.sleep(0.1)
    assert "error:" in status.output and "not a usable commit-indexer store" in status.output


def test_a_vanished_interpreter_is_logged_not_fatal(repo: Repo, tmp_path: Path) -> None:
    assert cli("hook", "install", "--repo", repo.path).exit_code == 0
    hook = repo.path / ".git" / "hooks" / "post-commit"
    hook.write_text(hook.read_text().replace("python=", "python=/gone/python #", 1))
    repo.commit({"src/lib.rs": LIB}, "one")
    repo.commit({"src/lib.rs": LIB + "\n"}, "two")
    log = (repo.path / ".git" / "commit-indexer" / "hook.log").read_text()
    assert log.count("/gone/python is gone") == 1  # said once, not on every commit


def test_rebase_cherry_pick_reset_pull_and_worktrees_are_captured(
    repo: Repo, tmp_path: Path
) -> None:
    repo.commit({"src/lib.rs": LIB}, "start")
    assert cli("hook", "install", "--repo", repo.path).exit_code == 0
    url = db_url(repo)
    repo.git("checkout", "-q", "-b", "topic")
    for n in range(3):
        repo.commit({f"src/t{n}.rs": f"pub fn t{n}() -> u8 {{\n    {n}\n}}\n"}, f"topic {n}")
    repo.git("checkout", "-q", "main")
    repo.commit({"src/m.rs": "pub fn m() {}\n"}, "main moves")
    repo.git("checkout", "-q", "topic")
    repo.git("rebase", "-q", "main")  # three rewritten commits, post-rewrite
    repo.git("checkout", "-q", "main")
    repo.git("cherry-pick", "topic~1")
    repo.git("reset", "-q", "--hard", "HEAD~1")
    wait_idle(repo)
    status = cli("hook", "status", "--repo", repo.path)
    assert "behind: 0 commits" in status.output, status.output
    # every commit reachable from the branches is in the store
    reachable = set(repo.git("rev-list", "--all").split())
    stored = count(url, "SELECT count(*) FROM commits")
    assert reachable <= _stored_oids(url) and stored >= len(reachable)
    # a pull from a second clone, and a commit in a worktree
    other = tmp_path / "other"
    Repo(tmp_path).git("clone", "-q", str(repo.path), str(other))
    Repo(other).commit({"src/from_other.rs": "pub fn other() {}\n"}, "elsewhere")
    repo.git("pull", "-q", "--no-rebase", str(other), "main")
    repo.git("worktree", "add", "-q", str(tmp_path / "wt"), "-b", "wt")
    Repo(tmp_path / "wt").commit({"src/wt.rs": "pub fn wt() {}\n"}, "in a worktree")
    wait_idle(repo)
    reachable = set(repo.git("rev-list", "--all").split())
    deadline = time.monotonic() + 30
    while not reachable <= _stored_oids(url) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert reachable <= _stored_oids(url)


def _stored_oids(url: str) -> set[str]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        oids = {row[0] for row in conn.exec_driver_sql("SELECT oid FROM commits")}
    engine.dispose()
    return oids


def test_hook_run_detach_returns_at_once_and_syncs(repo: Repo) -> None:
    """What a hook manager like pre-commit runs (.pre-commit-hooks.yaml)."""
    repo.commit({"src/lib.rs": LIB}, "one")
    start = time.monotonic()
    result = cli("hook-run", "--detach", "--repo", repo.path)
    assert result.exit_code == 0 and time.monotonic() - start < 2
    assert wait_for(db_url(repo), "SELECT count(*) FROM commits", 1) == 1
    wait_idle(repo)


def test_watch_syncs_commits_made_without_hooks(repo: Repo) -> None:
    import signal
    import subprocess
    import sys

    repo.commit({"src/lib.rs": LIB}, "one")
    watcher = subprocess.Popen(
        [sys.executable, "-m", "indexer", "watch", "--repo", str(repo.path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        # Ctrl-C as in a terminal, even when pytest itself runs as a background job
        # (which starts with SIGINT ignored, and children inherit that).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        url = db_url(repo)
        assert wait_for(url, "SELECT count(*) FROM commits", 1) == 1  # it catches up first
        # no hooks installed: only the watcher can see these
        repo.commit({"src/lib.rs": LIB.replace("u16", "u32")}, "two")
        repo.git("checkout", "-q", "-b", "side")
        repo.commit({"src/side.rs": "pub fn side() {}\n"}, "three")
        assert wait_for(url, "SELECT count(*) FROM commits", 3) == 3
        # A sync reads HEAD and the refs; the watcher must not take that for a change
        # and sync again forever (watchdog reports reads too).
        log = repo.path / ".git" / "commit-indexer" / "hook.log"
        time.sleep(3 * DEBOUNCE_SECONDS)
        syncs = log.read_text().count("watch:")
        time.sleep(3 * DEBOUNCE_SECONDS)
        assert log.read_text().count("watch:") == syncs
    finally:
        watcher.send_signal(signal.SIGINT)
        _out, err = watcher.communicate(timeout=20)
    assert watcher.returncode == 0, err.decode()
    assert b"stopped" in err


def test_a_locked_store_never_fails_or_delays_a_commit(repo: Repo) -> None:
    import sqlite3

    repo.commit({"src/lib.rs": LIB}, "one")
    assert cli("backfill", "--repo", repo.path).exit_code == 0
    assert cli("hook", "install", "--repo", repo.path).exit_code == 0
    holder = sqlite3.connect(repo.path / ".git" / "commit-indexer" / "index.db")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        start = time.monotonic()
        repo.commit({"src/lib.rs": LIB.replace("u16", "u64")}, "two")
        assert time.monotonic() - start < 5
    finally:
        holder.rollback()
        holder.close()
    # once the lock is gone the background sync (waiting on the busy timeout) finishes
    assert wait_for(db_url(repo), "SELECT count(*) FROM commits", 2) == 2
    wait_idle(repo)


def test_status_names_the_hook_manager_it_chains(repo: Repo) -> None:
    hooks = repo.path / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "post-merge").write_text('#!/bin/sh\ncall_lefthook run "post-merge" "$@"\n')
    (hooks / "post-merge").chmod(0o755)
    result = cli("hook", "install", "--repo", repo.path)
    assert "post-merge     installed, runs post-merge.chained (lefthook's) first" in result.output


def test_a_deleted_store_is_rebuilt_by_the_next_commit(repo: Repo) -> None:
    repo.commit({"src/lib.rs": LIB}, "one")
    assert cli("backfill", "--repo", repo.path).exit_code == 0
    assert cli("hook", "install", "--repo", repo.path).exit_code == 0
    for path in (repo.path / ".git" / "commit-indexer").glob("index.db*"):
        path.unlink()
    repo.commit({"src/lib.rs": LIB.replace("u16", "u64")}, "two")
    assert wait_for(db_url(repo), "SELECT count(*) FROM commits", 2) == 2
    wait_idle(repo)


def test_a_store_named_in_git_config_is_where_hooks_and_commands_go(repo: Repo) -> None:
    # A store elsewhere (PostgreSQL, a shared file) is named once in the repo's git
    # config; the hooks, which are given no --db, and every command then use it.
    elsewhere = repo.path.parent / "elsewhere" / "index.db"
    url = f"sqlite:///{elsewhere}"
    repo.git("config", "commit-indexer.db", url)
    repo.commit({"src/lib.rs": LIB}, "start")
    assert cli("hook", "install", "--repo", repo.path).exit_code == 0
    repo.commit({"src/lib.rs": LIB.replace("u16", "u32")}, "wider port")
    assert wait_for(url, "SELECT count(*) FROM commits", 2) == 2
    wait_idle(repo)
    stats = cli("stats", "--repo", repo.path)
    assert stats.exit_code == 0, stats.output
    assert str(elsewhere) in stats.output
    assert not (repo.path / ".git" / "commit-indexer" / "index.db").exists()
