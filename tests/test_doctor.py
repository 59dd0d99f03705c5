"""`doctor` on real repositories: each check finds what it should and nothing on a
healthy store (the adversarial history's), and `--repair` leaves a store equal to a
fresh backfill's. Damage is made the way it happens: a file overwritten, rows lost
with foreign keys off (another tool, an old version), history pruned by git gc."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest
from adversarial import adversarial_history
from gitrepo import (
    Repo,
    assert_clean_error,
    backfill,
    cli,
    count,
    db_url,
    dump_store,
    fast_history,
    store_at_revision,
)

from indexer.store import schema

Findings = dict[str, tuple[str, str]]


def doctor(repo: Repo, *flags: str, exit_code: int = 0) -> Findings:
    """Run doctor, which must exit with `exit_code`; {check: (level, message)}."""
    result = cli("doctor", "--repo", repo.path, *flags)
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output
    found = {}
    for line in result.output.splitlines():
        level, _, rest = line.partition(" ")
        if level in ("ok", "note", "problem"):
            check, _, message = rest.strip().partition(": ")
            found[check] = (level, message)
    return found


def problems(found: Findings) -> set[str]:
    return {check for check, (level, _message) in found.items() if level == "problem"}


def store_file(repo: Repo) -> Path:
    return Path(db_url(repo).removeprefix("sqlite:///"))


def raw(repo: Repo, *statements: str) -> None:
    """Run SQL on the store as another tool would: with foreign keys off."""
    with contextlib.closing(sqlite3.connect(store_file(repo))) as conn:
        for sql in statements:
            conn.execute(sql)
        conn.commit()


def fresh(repo: Repo, tmp_path: Path) -> dict:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    backfill(repo, "--db", url)
    return dump_store(url)


def test_the_adversarial_history_has_no_problems_and_doctor_writes_nothing(
    repo: Repo,
) -> None:
    adversarial_history(repo)
    backfill(repo)
    before = dump_store(db_url(repo))
    found = doctor(repo)
    assert found["integrity"] == ("ok", "ok")
    assert found["schema"] == ("ok", f"{schema.script_head()} (current)")
    assert problems(found) == set() and "unreachable" not in found and "behind" not in found
    assert dump_store(db_url(repo)) == before


def test_no_store_yet_is_a_note(repo: Repo) -> None:
    repo.commit({"src/lib.rs": "pub fn a() {}\n"})
    assert doctor(repo) == {"store": ("note", "no store yet")}
    assert not store_file(repo).exists()  # doctor creates nothing


def test_a_garbage_file_is_moved_aside_and_the_store_rebuilt(repo: Repo, tmp_path: Path) -> None:
    fast_history(repo, 5)
    path = store_file(repo)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00garbage" * 1000)
    assert problems(doctor(repo, exit_code=1)) == {"integrity"}
    assert_clean_error(cli("stats", "--repo", repo.path), "is not a usable commit-indexer store")
    doctor(repo, "--repair")
    [moved] = path.parent.glob("index.db.corrupt-*")
    assert moved.read_bytes() == b"\x00garbage" * 1000  # kept for a post-mortem
    backfill(repo)
    assert dump_store(db_url(repo)) == fresh(repo, tmp_path)


def test_damaged_pages_fail_the_integrity_check_and_are_rebuilt(repo: Repo, tmp_path: Path) -> None:
    fast_history(repo, 30)
    backfill(repo)
    path = store_file(repo)
    assert not path.with_name("index.db-wal").exists()  # checkpointed: all in the file
    data = bytearray(path.read_bytes())
    page = 4096
    for start in range(2 * page, len(data) // 2, 3 * page):  # every third page from the 3rd
        data[start + 100 : start + page] = b"\xa5" * (page - 100)
    path.write_bytes(bytes(data))
    found = doctor(repo, exit_code=1)
    assert found["integrity"][0] == "problem"
    assert "integrity_check" in found["integrity"][1] or "malformed" in found["integrity"][1]
    doctor(repo, "--repair")
    assert len(list(path.parent.glob("index.db.corrupt-*"))) == 1
    backfill(repo)
    assert dump_store(db_url(repo)) == fresh(repo, tmp_path)


@pytest.mark.parametrize("kind", ["foreign", "future"])
def test_what_is_not_ours_is_named_and_left_alone(repo: Repo, kind: str) -> None:
    fast_history(repo, 2)
    path = store_file(repo)
    if kind == "future":
        backfill(repo)
        raw(repo, "UPDATE alembic_version SET version_num = '0099'")
    else:
        path.parent.mkdir(parents=True)
        raw(repo, "CREATE TABLE moz_places (id INTEGER PRIMARY KEY)")
    before = path.read_bytes()
    expected = {"foreign": "is another program's database", "future": "a newer commit-indexer"}
    for flags in ((), ("--repair",)):
        found = doctor(repo, *flags, exit_code=1)
        assert problems(found) == {"schema"}
        assert expected[kind] in found["schema"][1]
    assert path.read_bytes() == before


def test_an_older_schema_is_reported_and_upgraded_by_repair(repo: Repo) -> None:
    fast_history(repo, 3)
    store_file(repo).parent.mkdir(parents=True)
    store_at_revision(store_file(repo), "0002")
    found = doctor(repo, exit_code=1)
    assert found["schema"][0] == "problem" and "0002" in found["schema"][1]
    with contextlib.closing(sqlite3.connect(store_file(repo))) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("0002",)]
    found = doctor(repo, "--repair")
    assert found["schema"] == ("ok", f"{schema.script_head()} (current)")


def test_orphan_rows_and_a_missing_blob_are_deleted_and_parsed_again(
    repo: Repo, tmp_path: Path
) -> None:
    fast_history(repo, 6, files=3, fns=4)
    repo.commit({"src/extra.rs": "pub fn extra() {}\n"}, "to be amended")
    backfill(repo)
    amended = repo.head()
    repo.git("commit", "-q", "--amend", "-m", "amended")
    backfill(repo)
    lost_blob = repo.git("rev-parse", "HEAD~2:src/m0.rs")
    # what an interrupted hand-made gc would leave: a commit row gone, its rows not
    raw(
        repo,
        f"DELETE FROM commits WHERE oid = '{amended}'",
        f"DELETE FROM blobs WHERE oid = '{lost_blob}'",
    )
    found = doctor(repo, exit_code=1)
    assert problems(found) == {"orphans", "blobs"}
    assert "examples" in found["orphans"][1] and "changes" in found["orphans"][1]
    assert "items" in found["orphans"][1]
    assert lost_blob[:12] in found["blobs"][1]
    assert problems(doctor(repo, "--repair")) == set()
    assert cli("gc", "--repo", repo.path).exit_code == 0  # the amended commit's blob
    assert dump_store(db_url(repo)) == fresh(repo, tmp_path)


def test_commits_without_examples_are_found(repo: Repo) -> None:
    fast_history(repo, 6, files=3, fns=4)
    backfill(repo)
    unbuilt = repo.git("rev-parse", "HEAD~1")
    raw(
        repo,
        f"UPDATE commits SET examples_built = 0 WHERE oid = '{unbuilt}'",
        f"DELETE FROM examples WHERE commit_id = (SELECT id FROM commits WHERE oid = '{unbuilt}')",
    )
    found = doctor(repo, exit_code=1)
    assert problems(found) == {"examples"}
    assert found["examples"][1].startswith("1 commits have no examples yet")
    assert unbuilt[:12] in found["examples"][1]


def test_repair_builds_the_missing_examples(repo: Repo, tmp_path: Path) -> None:
    fast_history(repo, 6, files=3, fns=4)
    backfill(repo)
    unbuilt = repo.git("rev-parse", "HEAD~1")
    raw(
        repo,
        f"UPDATE commits SET examples_built = 0 WHERE oid = '{unbuilt}'",
        f"DELETE FROM examples WHERE commit_id = (SELECT id FROM commits WHERE oid = '{unbuilt}')",
    )
    assert problems(doctor(repo, "--repair")) == set()
    assert dump_store(db_url(repo)) == fresh(repo, tmp_path)


def test_synced_tips_git_pruned_are_reset_and_unreachable_commits_noted(
    repo: Repo, tmp_path: Path
) -> None:
    fast_history(repo, 4, files=2, fns=3)
    repo.commit({"src/extra.rs": "pub fn extra() {}\n"}, "to be amended")
    backfill(repo)
    repo.git("commit", "-q", "--amend", "-m", "amended, and the old one pruned")
    repo.git("reflog", "expire", "--expire=now", "--all")
    repo.git("gc", "-q", "--prune=now")
    found = doctor(repo, exit_code=1)
    assert problems(found) == {"tips"}
    assert found["unreachable"][0] == "note" and found["unreachable"][1].startswith("1 stored")
    assert found["behind"] == ("note", "1 commits the refs reach are not indexed yet")
    found = doctor(repo, "--repair")
    assert problems(found) == set() and "behind" not in found
    assert found["unreachable"][0] == "note"  # gc's to remove, not doctor's
    assert cli("gc", "--repo", repo.path).exit_code == 0
    assert dump_store(db_url(repo)) == fresh(repo, tmp_path)


def test_a_commit_missing_under_stored_ones_is_indexed_again(repo: Repo, tmp_path: Path) -> None:
    fast_history(repo, 8, files=3, fns=4)
    backfill(repo)
    hole = repo.git("rev-parse", "HEAD~4")
    ids = f"(SELECT id FROM commits WHERE oid = '{hole}')"
    raw(
        repo,
        f"DELETE FROM examples WHERE commit_id = {ids}",
        f"DELETE FROM example_skips WHERE commit_id = {ids}",
        f"DELETE FROM changes WHERE commit_id = {ids}",
        f"DELETE FROM commits WHERE oid = '{hole}'",
    )
    assert "up to date" in backfill(repo)  # sync hides stored commits: it never looks there
    found = doctor(repo, exit_code=1)
    assert problems(found) == {"holes"}
    assert hole[:12] in found["holes"][1]
    assert problems(doctor(repo, "--repair")) == set()
    assert dump_store(db_url(repo)) == fresh(repo, tmp_path)


def test_new_commits_are_a_note_not_a_problem(repo: Repo) -> None:
    fast_history(repo, 3)
    backfill(repo)
    repo.commit({"src/new.rs": "pub fn new() {}\n"}, "not synced yet")
    found = doctor(repo)
    assert found["behind"] == ("note", "1 commits the refs reach are not indexed yet")


def test_repair_never_moves_a_file_that_is_not_a_store(repo: Repo, tmp_path: Path) -> None:
    # A typo in --db names somebody's file: doctor says what it is, repair leaves it.
    fast_history(repo, 2)
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes, not a database\n" * 50)
    for flags in ((), ("--repair",)):
        result = cli("doctor", "--repo", repo.path, "--db", f"sqlite:///{notes}", *flags)
        assert result.exit_code == 1, result.output
        assert "is not a commit-indexer store" in result.output, result.output
    assert notes.read_text() == "my notes, not a database\n" * 50
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("notes")) == ["notes.txt"]


def test_a_folder_where_the_store_should_be_is_reported_not_moved(repo: Repo) -> None:
    fast_history(repo, 2)
    path = store_file(repo)
    path.mkdir(parents=True)
    (path / "keep.txt").write_text("mine\n")
    for flags in ((), ("--repair",)):
        found = doctor(repo, *flags, exit_code=1)
        assert "it is a folder" in found["integrity"][1], found
    assert (path / "keep.txt").read_text() == "mine\n"
    assert_clean_error(cli("stats", "--repo", repo.path), "index.db")


def test_a_moved_repo_is_noted_and_gc_drops_its_old_rows(tmp_path: Path) -> None:
    import shutil

    from gitrepo import make_repo

    old = make_repo(tmp_path, "old")
    fast_history(old, 5)
    url = f"sqlite:///{tmp_path / 'shared.db'}"  # a store beside the repo, named by --db
    assert cli("backfill", "--repo", old.path, "--db", url).exit_code == 0
    shutil.move(old.path, tmp_path / "new")
    moved = tmp_path / "new"
    assert cli("backfill", "--repo", moved, "--db", url).exit_code == 0
    result = cli("doctor", "--repo", moved, "--db", url)
    assert result.exit_code == 0, result.output
    assert "1 other repos of the store are not on this machine" in result.output
    assert str(old.path / ".git") in result.output and "--drop-repos-not-here" in result.output
    kept = cli("gc", "--repo", moved, "--db", url)
    assert "dropped" not in kept.output
    assert count(url, "SELECT count(*) FROM repos") == 2
    dropped = cli("gc", "--drop-repos-not-here", "--repo", moved, "--db", url)
    assert dropped.exit_code == 0, dropped.output
    assert f"dropped the repo at {old.path / '.git'}" in dropped.output
    assert count(url, "SELECT count(*) FROM repos") == 1
    assert count(url, "SELECT count(*) FROM commits") == 5
    assert "not on this machine" not in cli("doctor", "--repo", moved, "--db", url).output
