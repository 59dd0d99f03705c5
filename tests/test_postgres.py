"""A PostgreSQL store: several repos (forks of one history) share it and parse each
blob once; odd input stores there what SQLite stores; a store URL that cannot be
used says why, without showing its password."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from adversarial import adversarial_history
from gitrepo import (
    Repo,
    assert_clean_error,
    cli,
    count,
    dump_store,
    fast_history,
    history_blobs,
    make_repo,
    stats,
    wait_idle,
)

from indexer.store.database import display_url

FORK_ONLY = "pub fn only_in_the_fork() -> u8 {\n    7\n}\n"


def test_forks_share_one_store_and_parse_each_blob_once(tmp_path: Path, pg_url: str) -> None:
    origin = make_repo(tmp_path, "origin")
    fast_history(origin, 120, files=6, fns=10)
    fork = Repo(tmp_path / "fork")
    origin.git("clone", "-q", str(origin.path), str(fork.path))
    fork.commit({"src/fork.rs": FORK_ONLY, "src/m0.rs": FORK_ONLY}, "fork's own work")
    # both at once, as two machines would: they take turns on the writer lock
    url = pg_url.replace("postgresql+psycopg://", "postgresql://")  # psycopg is the default
    backfills = [
        subprocess.Popen(
            [sys.executable, "-m", "indexer", "backfill", "--repo", str(r.path), "--db", url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in (origin, fork)
    ]
    parsed = 0
    for proc in backfills:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        parsed += int(out.split("parsed ")[1].split()[0])
    every = history_blobs(origin) | history_blobs(fork)
    assert parsed == count(url, "SELECT count(*) FROM blobs") == len(every)
    assert count(url, "SELECT count(*) FROM repos") == 2

    mine, theirs = stats(origin, "--db", url), stats(fork, "--db", url)
    assert mine["commits"].startswith("120 (") and theirs["commits"].startswith("121 (")
    assert mine["blobs"].startswith(f"{len(history_blobs(origin))} (")
    assert theirs["blobs"].startswith(f"{len(history_blobs(fork))} (")
    assert int(mine["examples"].split()[0]) < int(theirs["examples"].split()[0])
    found = cli("symbols", "only_in_the_fork", "--repo", fork.path, "--db", url)
    assert found.exit_code == 0 and "src/fork.rs" in found.output
    absent = cli("symbols", "only_in_the_fork", "--repo", origin.path, "--db", url)
    assert absent.exit_code == 1  # not found: the origin's HEAD has no such file

    gone = cli("gc", "--repo", fork.path, "--db", url)  # nothing of the fork is dead
    assert "removed 0 commits, 0 examples, 0 blobs" in gone.output
    origin.git("reset", "-q", "--hard", "HEAD~1")  # the origin's last commit dies
    gone = cli("gc", "--repo", origin.path, "--db", url)
    assert "removed 1 commits" in gone.output
    assert count(url, "SELECT count(*) FROM blobs") == len(every)  # the fork holds its blob


def test_the_adversarial_history_stores_the_same_as_on_sqlite(
    repo: Repo, tmp_path: Path, pg_url: str
) -> None:
    adversarial_history(repo)
    # a NUL past the 8000 bytes git sniffs for binary: PostgreSQL text cannot hold it
    late_nul = ("// padding\n" * 800 + "pub fn late() {\n    // \0\n}\n").encode()
    repo.commit({"src/late_nul.rs": late_nul, "src/emoji.rs": 'fn é() -> &str { "😀" }\n'})
    lite = f"sqlite:///{tmp_path / 'lite.db'}"
    for url in (lite, pg_url):
        result = cli("backfill", "--repo", repo.path, "--db", url)
        assert result.exit_code == 0, result.output
    assert dump_store(pg_url) == dump_store(lite)
    assert stats(repo, "--db", pg_url)["skipped"].startswith("2 binary")


def test_a_server_that_is_not_there(repo: Repo, tmp_path: Path) -> None:
    repo.commit({"src/lib.rs": "pub fn a() {}\n"})
    url = f"postgresql://indexer@/store?host={tmp_path / 'no-server'}"
    result = cli("backfill", "--repo", repo.path, "--db", url)
    assert_clean_error(result, "cannot use the store postgresql+psycopg://indexer@/store")
    assert "hint: check that the PostgreSQL server is running" in result.output


def test_a_database_that_does_not_exist_and_the_password_is_not_shown(
    repo: Repo, pg_url: str
) -> None:
    repo.commit({"src/lib.rs": "pub fn a() {}\n"})
    url = pg_url.replace("indexer@", "indexer:s3cret@").replace("/test_", "/missing_")
    result = cli("stats", "--repo", repo.path, "--db", url)
    assert_clean_error(result, 'database "missing_')
    assert "createdb" in result.output
    assert "s3cret" not in result.output and "indexer:***@" in result.output
    assert display_url(url) in result.output


def test_a_url_that_is_not_one_or_not_ours(repo: Repo) -> None:
    repo.commit({"src/lib.rs": "pub fn a() {}\n"})
    garbage = cli("backfill", "--repo", repo.path, "--db", "index.db")
    assert_clean_error(garbage, "--db index.db is not a database URL")
    other = cli("backfill", "--repo", repo.path, "--db", "mysql://u:pw@host/db")
    assert_clean_error(other, "is on mysql; commit-indexer stores are SQLite or PostgreSQL")
    assert "pw" not in other.output


def test_a_password_in_the_query_string_is_masked_everywhere(repo: Repo, pg_url: str) -> None:
    # libpq's own spelling: postgresql://user@host/db?password=...
    repo.commit({"src/lib.rs": "pub fn a() {}\n"})
    base, _, query = pg_url.partition("?")
    url = (
        base.replace("/test_", "/missing_")
        + "?"
        + "&".join(filter(None, [query, "password=s3cret"]))
    )
    for command in ("stats", "doctor", "backfill"):
        result = cli(command, "--repo", repo.path, "--db", url)
        assert result.exit_code != 0 and "s3cret" not in result.output, result.output
    repo.git("config", "commit-indexer.db", url)
    assert cli("hook", "install", "--repo", repo.path).exit_code == 0
    repo.commit({"src/lib.rs": "pub fn b() {}\n"})
    wait_idle(repo)
    status = cli("hook", "status", "--repo", repo.path)
    log = repo.path / ".git" / "commit-indexer" / "hook.log"
    deadline = time.monotonic() + 20
    while "error" not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "error" in log.read_text()
    assert "s3cret" not in log.read_text() and "s3cret" not in status.output
    assert display_url(url).endswith("password=%2A%2A%2A") or "password=***" in display_url(url)
