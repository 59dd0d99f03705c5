"""Backfill and sync end to end: real repos, the real CLI, the store's contents."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from gitrepo import (
    Repo,
    cli,
    count,
    db_url,
    dump_store,
    fast_history,
    file_hashes,
    history_blobs,
    make_repo,
    unbuild_examples,
)

from indexer.demo import DELETED_STRUCT, TAG, build_demo_repo
from indexer.store.location import sqlite_path

LIB_V1 = "pub struct Config { pub name: String }\npub fn load() -> Config { todo!() }\n"
LIB_V2 = "pub struct Config { pub name: String, pub port: u16 }\n"


def test_demo_backfill_then_rerun_adds_nothing(tmp_path: Path) -> None:
    demo = build_demo_repo(tmp_path / "demo")
    result = cli("backfill", "--repo", demo.path)
    assert result.exit_code == 0, result.output
    url = f"sqlite:///{demo.path / '.git' / 'commit-indexer' / 'index.db'}"
    reachable = subprocess.run(
        ["git", "rev-list", "--count", "--all"], cwd=demo.path, capture_output=True, text=True
    ).stdout
    assert count(url, "SELECT count(*) FROM commits") == int(reachable) == demo.commits
    # each distinct .rs blob of the history is parsed exactly once
    assert count(url, "SELECT count(*) FROM blobs") == len(history_blobs(Repo(demo.path)))
    assert count(url, "SELECT count(*) FROM commits WHERE is_merge") == 1
    before = dump_store(url)

    again = cli("backfill", "--repo", demo.path)
    assert again.exit_code == 0, again.output
    assert "up to date" in again.output
    assert dump_store(url) == before

    stats = cli("stats", "--repo", demo.path)
    assert stats.exit_code == 0, stats.output
    assert f"commits      {demo.commits} (1 merges" in stats.output


def test_revert_and_returning_file_parse_nothing_new(repo: Repo) -> None:
    repo.commit({"src/lib.rs": LIB_V1}, "v1")
    assert "parsed 1 blobs" in cli("sync", "--repo", repo.path).output
    repo.commit({"src/lib.rs": LIB_V2}, "v2")
    assert "parsed 1 blobs" in cli("sync", "--repo", repo.path).output
    repo.git("revert", "--no-edit", "HEAD")
    result = cli("sync", "--repo", repo.path)
    assert result.exit_code == 0, result.output
    assert "indexed 1 commits, parsed 0 blobs" in result.output
    # the same content under another path is the same blob: nothing to parse
    repo.git("mv", "src/lib.rs", "src/config.rs")
    repo.commit({}, "rename")
    assert "indexed 1 commits, parsed 0 blobs" in cli("sync", "--repo", repo.path).output
    url = db_url(repo)
    assert count(url, "SELECT count(*) FROM blobs") == 2
    rename = dump_store(url)["changes"]
    assert ("R", "src/config.rs", "src/lib.rs") in {(c[1], c[2], c[3]) for c in rename}


def test_incremental_sync_equals_one_backfill(
    tmp_path: Path, new_store: Callable[[str], str]
) -> None:
    repo = make_repo(tmp_path)
    url_inc = new_store("inc")
    repo.commit({"src/lib.rs": LIB_V1, "src/a.rs": "fn a() {}\n"}, "start")
    for step in range(4):
        repo.commit({f"src/m{step}.rs": f"pub fn m{step}() -> u32 {{ {step} }}\n"}, f"m{step}")
        assert cli("sync", "--repo", repo.path, "--db", url_inc).exit_code == 0
    repo.git("checkout", "-q", "-b", "side", "HEAD~2")
    repo.commit({"src/side.rs": "pub struct Side;\n"}, "side work")
    repo.git("checkout", "-q", "main")
    repo.clock += 1
    repo.git("merge", "-q", "--no-ff", "-m", "merge side", "side")
    repo.git("tag", "v1")
    assert cli("sync", "--repo", repo.path, "--db", url_inc).exit_code == 0
    assert cli("backfill", "--repo", repo.path, "--db", url_inc).exit_code == 0

    url_full = new_store("full")
    assert cli("backfill", "--repo", repo.path, "--db", url_full).exit_code == 0
    assert dump_store(url_inc) == dump_store(url_full)


def _backfill_process(repo: Repo, url: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "indexer", "backfill", "--repo", str(repo.path), "--db", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill reaches the parser pool too
    )


def _poll(url: str, sql: str) -> int:
    """`sql`'s count on the store as it is being written, 0 while it cannot be read."""
    db = sqlite_path(url)
    if db is None:
        try:
            return count(url, sql)
        except sa.exc.SQLAlchemyError:  # the table not yet
            return 0
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1)) as c:
            return c.execute(sql).fetchone()[0]
    except sqlite3.Error:  # not created yet, or the table not yet
        return 0


def _kill_when(url: str, proc: subprocess.Popen, sql: str | None, at_least: int) -> None:
    """SIGKILL the backfill (and its parser pool) once `sql` counts `at_least` in the
    store, or (no `sql`) once the store's file exists (PostgreSQL: at once)."""
    db = sqlite_path(url)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if (db is None or db.exists()) and (sql is None or _poll(url, sql) >= at_least):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return
        time.sleep(0.002)
    raise AssertionError(f"the backfill ended before `{sql}` reached {at_least}")


COMMITS = "SELECT count(*) FROM commits"
TABLES = {
    "sqlite": "SELECT count(*) FROM sqlite_master",
    "postgresql": "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
}


def test_kill_9_at_any_point_then_rerun_equals_uninterrupted(
    tmp_path: Path, new_store: Callable[[str], str]
) -> None:
    """SIGKILL a backfill as it creates the store, once it is created, after its first
    commit, midway and near the end (each time the rerun of the one before); the last
    rerun finishes, and the store and its export equal an uninterrupted run's."""
    repo = make_repo(tmp_path)
    total = 400
    fast_history(repo, total, files=12, fns=40)
    url = new_store("killed")
    points = [
        (None, 0),  # SQLite has made the file: it is migrating or about to
        (TABLES[sa.make_url(url).get_backend_name()], 1),
        (COMMITS, 1),
        (COMMITS, total // 3),
        (COMMITS, total - 30),
    ]
    for sql, at_least in points:
        _kill_when(url, _backfill_process(repo, url), sql, at_least)
        assert _poll(url, COMMITS) < total
    done = count(url, COMMITS)
    result = cli("backfill", "--repo", repo.path, "--db", url)
    assert result.exit_code == 0, result.output
    assert f"indexed {total - done} commits" in result.output

    clean = new_store("clean")
    assert cli("backfill", "--repo", repo.path, "--db", clean).exit_code == 0
    assert dump_store(url) == dump_store(clean)
    for stored, out in ((url, tmp_path / "killed"), (clean, tmp_path / "clean")):
        result = cli("export", out, "--repo", repo.path, "--db", stored)
        assert result.exit_code == 0, result.output
    assert file_hashes(tmp_path / "killed") == file_hashes(tmp_path / "clean")


def test_a_sync_stopped_between_a_commits_two_transactions_is_finished(tmp_path: Path) -> None:
    # The kill test above reaches this state only by chance: make it directly.
    repo = make_repo(tmp_path)
    fast_history(repo, 90, files=4, fns=12)  # enough commits for the worker pool
    url, clean = (f"sqlite:///{tmp_path / name}" for name in ("crashed.db", "clean.db"))
    for stored in (url, clean):
        assert cli("backfill", "--repo", repo.path, "--db", stored).exit_code == 0
    examples = "SELECT count(*) FROM examples"
    for workers, after_id in (("1", 20), ("2", 50)):  # built in this process, then in workers
        unbuild_examples(url, after_id)
        assert count(url, examples) < count(clean, examples)
        result = cli("sync", "--repo", repo.path, "--db", url, "--workers", workers)
        assert result.exit_code == 0, result.output
        assert "indexed 0 commits" in result.output
        assert dump_store(url) == dump_store(clean)


def test_symbols_answer_from_the_tree_at_a_rev(tmp_path: Path) -> None:
    demo = build_demo_repo(tmp_path / "demo")
    assert cli("backfill", "--repo", demo.path).exit_code == 0
    old = cli("symbols", DELETED_STRUCT, "--at", TAG, "--repo", demo.path)
    assert old.exit_code == 0, old.output
    assert f"struct  {DELETED_STRUCT}" in old.output
    assert f"pub struct {DELETED_STRUCT}" in old.output
    head = cli("symbols", DELETED_STRUCT, "--repo", demo.path)
    assert head.exit_code == 1  # not found: 1, an error: 2
    assert f"error: no definition of '{DELETED_STRUCT}' at HEAD" in head.output
    kinds = cli("symbols", "Config", "--kind", "struct", "--repo", demo.path)
    assert kinds.exit_code == 0, kinds.output
    assert "struct  Config" in kinds.output


def test_symbols_on_a_commit_not_yet_indexed(repo: Repo) -> None:
    repo.commit({"src/lib.rs": LIB_V1}, "one")
    assert cli("sync", "--repo", repo.path).exit_code == 0
    repo.commit({"src/lib.rs": LIB_V2}, "two")
    result = cli("symbols", "Config", "--repo", repo.path)
    assert result.exit_code == 2
    assert "is not indexed yet" in result.output
    assert "hint: run `commit-indexer sync" in result.output


def test_worktrees_share_one_store(repo: Repo, tmp_path: Path) -> None:
    repo.commit({"src/lib.rs": LIB_V1}, "one")
    repo.git("worktree", "add", "-q", str(tmp_path / "wt"), "-b", "wt")
    wt = Repo(tmp_path / "wt")
    wt.commit({"src/extra.rs": "pub fn extra() {}\n"}, "in the worktree")
    assert cli("backfill", "--repo", wt.path).exit_code == 0
    assert not (tmp_path / "wt" / ".git").is_dir()  # a worktree's .git is a file
    assert count(db_url(repo), "SELECT count(*) FROM commits") == 2
    assert cli("symbols", "extra", "--at", "wt", "--repo", repo.path).exit_code == 0


def test_branches_and_tags_are_indexed_remotes_on_request(repo: Repo, tmp_path: Path) -> None:
    repo.commit({"src/lib.rs": LIB_V1}, "one")
    repo.git("checkout", "-q", "-b", "topic")
    repo.commit({"src/topic.rs": "pub fn topic() {}\n"}, "topic")
    repo.git("checkout", "-q", "main")
    repo.git("checkout", "-q", "--detach")
    repo.commit({"src/tagged.rs": "pub fn tagged() {}\n"}, "tagged only")
    repo.git("tag", "-a", "-m", "annotated", "v0")
    repo.git("checkout", "-q", "main")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo.path), str(clone)], check=True)
    other = Repo(clone)
    assert cli("backfill", "--repo", repo.path).exit_code == 0
    assert count(db_url(repo), "SELECT count(*) FROM commits") == 3
    # in the clone, `topic` is only a remote-tracking branch
    assert cli("backfill", "--repo", other.path).exit_code == 0
    assert count(db_url(other), "SELECT count(*) FROM commits") == 2
    assert cli("backfill", "--repo", other.path, "--remotes").exit_code == 0
    assert count(db_url(other), "SELECT count(*) FROM commits") == 3


def test_python_dash_m_runs_the_cli() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "indexer", "--help"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0 and "backfill" in proc.stdout


def test_gc_removes_what_no_ref_reaches_and_leaves_a_fresh_backfills_store(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path)
    repo.commit({"src/lib.rs": LIB_V1}, "one")
    repo.commit({"src/lib.rs": LIB_V2}, "two")
    assert cli("backfill", "--repo", repo.path).exit_code == 0
    repo.commit({"src/lib.rs": LIB_V2 + "pub fn extra() {}\n"}, "three")
    assert cli("sync", "--repo", repo.path).exit_code == 0
    repo.git("commit", "-q", "--amend", "-m", "three, amended")  # the old three is orphaned
    repo.git("reset", "-q", "--hard", "HEAD~1")  # and so is the amended one
    assert cli("backfill", "--repo", repo.path).exit_code == 0
    result = cli("gc", "--repo", repo.path)
    assert result.exit_code == 0, result.output
    assert "removed 1 commits" in result.output and "1 blobs" in result.output
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert cli("backfill", "--repo", repo.path, "--db", fresh).exit_code == 0
    assert dump_store(db_url(repo)) == dump_store(fresh)
    again = cli("gc", "--repo", repo.path)
    assert "removed 0 commits, 0 examples, 0 blobs" in again.output


def test_two_backfills_at_once_both_succeed_and_store_each_commit_once(
    tmp_path: Path, new_store: Callable[[str], str]
) -> None:
    repo = make_repo(tmp_path)
    fast_history(repo, 200, files=8, fns=20)
    url = new_store("shared")
    command = [sys.executable, "-m", "indexer", "backfill", "--repo", str(repo.path), "--db", url]
    both = [
        subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for proc in both:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    clean = new_store("clean")
    assert cli("backfill", "--repo", repo.path, "--db", clean).exit_code == 0
    assert dump_store(url) == dump_store(clean)


def test_the_progress_bar_ends_at_every_commit_and_fits_80_columns(tmp_path: Path) -> None:
    """Merges make no examples: the bar's last frame still counts them done, and no
    frame wraps in an 80-column terminal."""
    import io

    from adversarial import merge
    from gitrepo import make_repo
    from rich.console import Console

    from indexer.index.sync import sync
    from indexer.progress_bars import SyncBar
    from indexer.store import open_target

    repo = make_repo(tmp_path)
    repo.commit({"src/lib.rs": "pub fn a() {}\n"}, "one")
    for i in range(3):
        repo.git("checkout", "-q", "-b", f"side{i}")
        repo.commit({f"src/s{i}.rs": f"pub fn s{i}() {{}}\n"}, f"side {i}")
        repo.git("checkout", "-q", "main")
        repo.commit({f"src/m{i}.rs": f"pub fn m{i}() {{}}\n"}, f"main {i}")
        merge(repo, f"side{i}")
    screen = io.StringIO()
    bar = SyncBar(Console(file=screen, width=80, force_terminal=True, color_system=None))
    seen = []

    def update(p: object) -> None:
        seen.append(p)
        bar.update(p)

    target = open_target(str(repo.path))
    try:
        result = sync(target, workers=1, on_progress=update)
    finally:
        bar.close()
        target.close()
    assert result.commits == 10 == seen[-1].total
    assert seen[-1].done == seen[-1].total  # the three merges included
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())
    frames = [f for f in shown.replace("\r", "\n").splitlines() if f.strip()]
    assert "10/10 commits" in frames[-1] and "blobs/s" in frames[-1], frames[-3:]
    assert all(len(f) <= 80 for f in frames), max(frames, key=len)
