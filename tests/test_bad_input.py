"""Bad input never stops a backfill: a blob that cannot be parsed is skipped or kept
partially, counted by reason, and the rest of its commit is still indexed. Odd
commits (empty, merges, shallow boundaries, broken encodings) are indexed like any
other. What the user must fix (not a repo, not a store, a locked store, an unknown
rev) exits 2 with one `error:` and one `hint:` line, never a traceback.

Every test builds a real repository and runs the real CLI.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from adversarial import (
    BINARY,
    BOM_CRLF,
    DEEP_MODS,
    DEEP_PARENS,
    FILE_PROTOCOL,
    LATIN1_SOURCE,
    NORMAL,
    SYNTAX_ERROR,
    bogus_encoding,
    latin1_message,
    merge,
    raw_commit,
    shallow_clone,
)
from gitrepo import (
    Repo,
    assert_clean_error,
    backfill,
    cli,
    count,
    db_url,
    make_repo,
    rows,
    skipped,
    stats,
)

from indexer import store
from indexer.rust import MAX_NESTING
from indexer.store import database


def blob_at(repo: Repo, path: str, rev: str = "HEAD") -> str:
    return repo.git("rev-parse", f"{rev}:{path}")


def blob_state(repo: Repo, path: str) -> tuple[str, str | None]:
    """(status, reason) of the blob at `path` in HEAD."""
    sql = "SELECT status, reason FROM blobs WHERE oid = ?"
    (state,) = rows(repo, sql, blob_at(repo, path))
    return state


def changes_of(repo: Repo, commit: str) -> list[tuple]:
    sql = (
        "SELECT ch.status, ch.path, ch.entry, ch.new_blob FROM changes ch"
        " JOIN commits c ON c.id = ch.commit_id WHERE c.oid = ? ORDER BY ch.path"
    )
    return rows(repo, sql, commit)


def symbols(repo: Repo, name: str) -> str:
    result = cli("symbols", name, "--repo", repo.path)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize(
    ("content", "flags", "reason"),
    [
        pytest.param(BINARY, [], "binary", id="binary"),
        pytest.param(LATIN1_SOURCE, [], "non_utf8", id="latin-1"),
        pytest.param(
            b"pub fn big() {}\n" + b"// pad\n" * 712,  # 5,000 bytes
            ["--max-blob-bytes", "1000"],
            "too_large",
            id="too-large",
        ),
    ],
)
def test_unparseable_blob_is_skipped_and_counted(
    repo: Repo, content: bytes, flags: list[str], reason: str
) -> None:
    repo.commit({**NORMAL, "src/bad.rs": content})
    backfill(repo, *flags)
    assert skipped(repo) == {reason: 1}
    assert blob_state(repo, "src/bad.rs") == ("skipped", reason)
    assert count(db_url(repo), "SELECT count(*) FROM items WHERE name != 'normal'") == 0
    assert "src/lib.rs:1-1  fn  normal" in symbols(repo, "normal")


def test_default_size_limit_is_1_mb(repo: Repo) -> None:
    head = b"pub fn big() {}\n"
    repo.commit(
        {
            "src/limit.rs": head + b"/" * (1_000_000 - len(head)),
            "src/over.rs": head + b"/" * (1_200_000 - len(head)),
        }
    )
    backfill(repo)
    assert blob_state(repo, "src/limit.rs") == ("parsed", None)
    assert blob_state(repo, "src/over.rs") == ("skipped", "too_large")
    assert skipped(repo) == {"too_large": 1}


def test_syntax_error_keeps_what_tree_sitter_recovers(repo: Repo) -> None:
    repo.commit({**NORMAL, "src/broken.rs": SYNTAX_ERROR})
    backfill(repo)
    assert blob_state(repo, "src/broken.rs") == ("partial", "syntax_error")
    assert "1 partial" in stats(repo)["blobs"]
    assert skipped(repo) == {}  # parsed in part, not skipped
    assert skipped(repo, "partial") == {"syntax_error": 1}
    assert "src/broken.rs:3-3  fn  ok" in symbols(repo, "ok")
    assert "src/lib.rs:1-1  fn  normal" in symbols(repo, "normal")


def test_deep_nesting_does_not_recurse(repo: Repo) -> None:
    repo.commit({**NORMAL, "src/deep.rs": DEEP_PARENS})
    output = backfill(repo)
    assert "RecursionError" not in output
    assert blob_state(repo, "src/deep.rs") == ("parsed", None)
    assert "src/deep.rs:1-1  fn  " in symbols(repo, "deep")
    assert "src/lib.rs:1-1  fn  normal" in symbols(repo, "normal")


def test_deep_mods_are_indexed_to_a_depth_and_counted(repo: Repo) -> None:
    """5,000 nested `mod a {`: every item stores its whole qualified name, so all of
    them would cost O(n^2) (the 50 kB file made ~110 MB of store). The outer
    MAX_NESTING levels are indexed, the blob is partial for the reason too_deep."""
    repo.commit({**NORMAL, "src/deep.rs": DEEP_MODS})
    output = backfill(repo)
    assert "RecursionError" not in output
    assert blob_state(repo, "src/deep.rs") == ("partial", "too_deep")
    assert skipped(repo, "partial") == {"too_deep": 1}
    stored = sum(
        count(db_url(repo), f"SELECT coalesce(sum(length({column})), 0) FROM {table}")
        for table, column in (("items", "qualname"), ("mods", "scope"), ("examples", "qualname"))
    )
    assert stored < 100 * len(DEEP_MODS)
    deepest = "::".join(["a"] * (MAX_NESTING + 1))
    assert count(db_url(repo), f"SELECT count(*) FROM items WHERE qualname = '{deepest}'") == 1
    assert count(db_url(repo), "SELECT count(*) FROM items WHERE kind = 'mod'") == MAX_NESTING + 1
    assert count(db_url(repo), "SELECT count(*) FROM items WHERE name = 'deep'") == 0
    assert "src/lib.rs:1-1  fn  normal" in symbols(repo, "normal")


def test_symlinks_are_counted_never_parsed(repo: Repo) -> None:
    repo.write(NORMAL)
    (repo.path / "src" / "link.rs").symlink_to("lib.rs")
    (repo.path / "src" / "dangling.rs").symlink_to("missing.rs")
    head = repo.commit({}, "add symlinks")
    backfill(repo)
    assert skipped(repo) == {"symlink": 2}
    assert changes_of(repo, head) == [
        ("A", "src/dangling.rs", "symlink", None),
        ("A", "src/lib.rs", "file", blob_at(repo, "src/lib.rs")),
        ("A", "src/link.rs", "symlink", None),
    ]
    assert rows(repo, "SELECT oid FROM blobs") == [(blob_at(repo, "src/lib.rs"),)]
    found = symbols(repo, "normal")
    assert "src/lib.rs:1-1  fn  normal" in found
    assert "link.rs" not in found


def test_submodule_is_counted_not_followed(repo: Repo, tmp_path: Path) -> None:
    dep = make_repo(tmp_path, "dep")
    dep.commit({"src/lib.rs": "pub fn from_dep() {}\n"})
    repo.git(*FILE_PROTOCOL, "submodule", "add", "-q", dep.path, "vendor/dep")
    head = repo.commit(NORMAL, "add a submodule and a file")
    backfill(repo)
    assert skipped(repo) == {"submodule": 1}
    assert ("A", "vendor/dep", "submodule", None) in changes_of(repo, head)
    assert "src/lib.rs:1-1  fn  normal" in symbols(repo, "normal")
    result = cli("symbols", "from_dep", "--repo", repo.path)
    assert result.exit_code == 1, result.output  # not found: the submodule's are its own


def test_empty_and_merge_commits(repo: Repo) -> None:
    repo.commit(NORMAL, "root")
    empty = repo.commit({}, "empty")
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit({"src/feature.rs": "pub fn feature() {}\n"}, "feature")
    repo.git("checkout", "-q", "main")
    repo.commit({"src/main_side.rs": "pub fn main_side() {}\n"}, "main side")
    merge(repo, "feature")
    backfill(repo)
    assert stats(repo)["commits"] == "5 (1 merges, 0 shallow boundaries)"
    assert changes_of(repo, empty) == []
    assert changes_of(repo, repo.head()) == []  # a clean merge adds nothing of its own
    assert "src/feature.rs:1-1  fn  feature" in symbols(repo, "feature")


def test_conflict_resolution_is_the_merges_only_change(repo: Repo) -> None:
    repo.commit({"src/lib.rs": "pub fn base() {}\n"}, "base")
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit({"src/lib.rs": "pub fn theirs() {}\n", "src/feature.rs": "pub fn feature() {}\n"})
    repo.git("checkout", "-q", "main")
    repo.commit({"src/lib.rs": "pub fn ours() {}\n"}, "ours")
    merge(repo, "feature", check=False)
    resolved = repo.commit({"src/lib.rs": "pub fn ours() {}\npub fn theirs() {}\n"}, "resolve")
    assert len(repo.git("rev-list", "--parents", "-1", resolved).split()) == 3
    backfill(repo)
    lib = blob_at(repo, "src/lib.rs")
    assert lib not in (blob_at(repo, "src/lib.rs", "HEAD^1"), blob_at(repo, "src/lib.rs", "HEAD^2"))
    assert changes_of(repo, resolved) == [("M", "src/lib.rs", "file", lib)]
    assert blob_state(repo, "src/lib.rs") == ("parsed", None)
    assert "src/lib.rs:2-2  fn  theirs" in symbols(repo, "theirs")


def ten_then_shallow(repo: Repo, tmp_path: Path) -> Repo:
    """A clone holding the last 3 of 10 commits."""
    for n in range(10):
        repo.commit({"src/lib.rs": f"pub fn v{n}() {{}}\n"}, f"v{n}")
    return shallow_clone(repo, tmp_path / "shallow", depth=3)


def test_shallow_clone_indexes_what_it_has(repo: Repo, tmp_path: Path) -> None:
    shallow = ten_then_shallow(repo, tmp_path)
    backfill(shallow)
    assert stats(shallow)["commits"].startswith("3 (0 merges, ")
    boundary = shallow.git("rev-parse", "HEAD~2")
    lib = blob_at(shallow, "src/lib.rs", boundary)
    assert changes_of(shallow, boundary) == [("A", "src/lib.rs", "file", lib)]  # against nothing
    assert "src/lib.rs:1-1  fn  v9" in symbols(shallow, "v9")


def test_shallow_boundary_is_counted(repo: Repo, tmp_path: Path) -> None:
    shallow = ten_then_shallow(repo, tmp_path)
    backfill(shallow)
    assert stats(shallow)["commits"] == "3 (0 merges, 1 shallow boundaries)"
    boundary = shallow.git("rev-parse", "HEAD~2")
    parent = repo.git("rev-parse", "HEAD~3")
    assert rows(shallow, "SELECT parents FROM commits WHERE oid = ?", boundary) == [(parent,)]


def test_unshallow_then_backfill_indexes_the_older_commits(repo: Repo, tmp_path: Path) -> None:
    shallow = ten_then_shallow(repo, tmp_path)
    backfill(shallow)
    shallow.git(*FILE_PROTOCOL, "fetch", "-q", "--unshallow")
    backfill(shallow)
    assert stats(shallow)["commits"].startswith("10 (0 merges, ")
    result = cli("symbols", "v0", "--at", "HEAD~9", "--repo", shallow.path)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("make_commit", [latin1_message, bogus_encoding])
def test_message_encoding_is_decoded_not_lost(
    repo: Repo, make_commit: Callable[[Repo], str]
) -> None:
    repo.commit(NORMAL, "root")
    oid = make_commit(repo)
    backfill(repo)
    [(message,)] = rows(repo, "SELECT message FROM commits WHERE oid = ?", oid)
    assert message == "café crème\n"
    assert "src/lib.rs:1-1  fn  normal" in symbols(repo, "normal")


def test_bom_and_crlf(repo: Repo) -> None:
    repo.commit({"src/lib.rs": BOM_CRLF.encode()})
    backfill(repo)
    assert blob_state(repo, "src/lib.rs") == ("parsed", None)
    first = symbols(repo, "first").splitlines()
    assert first[:2] == ["src/lib.rs:1-1  fn  first", "fn first() {}"]
    assert "src/lib.rs:3-3  struct  Second" in symbols(repo, "Second")
    assert "src/lib.rs:4-6  fn  third" in symbols(repo, "third")


@pytest.mark.parametrize("path", ["src/my file.rs", "src/ünï.rs", "src/-dash.rs"])
def test_odd_file_names(repo: Repo, path: str) -> None:
    repo.commit({**NORMAL, path: "pub fn named() {}\n"})
    backfill(repo)
    assert f"{path}:1-1  fn  named" in symbols(repo, "named")
    assert "src/lib.rs:1-1  fn  normal" in symbols(repo, "normal")


def test_error_lines_are_not_wrapped(tmp_path: Path) -> None:
    plain = tmp_path / ("a-folder-with-a-long-name-" * 4)
    plain.mkdir()
    result = cli("backfill", "--repo", plain)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        f"error: {plain} is not inside a git repository",
        "hint: run the command inside a repository or pass --repo PATH",
    ]


def test_empty_repository(repo: Repo) -> None:
    assert "up to date" in backfill(repo)
    assert stats(repo)["commits"].startswith("0 ")


def test_non_utf8_file_name(repo: Repo) -> None:
    repo.commit({**NORMAL, "src/caf\udce9.rs": "pub fn named() {}\n"})  # the name is b"caf\xe9"
    backfill(repo)
    assert "src/lib.rs:1-1  fn  normal" in symbols(repo, "normal")
    assert ".rs:1-1  fn  named" in symbols(repo, "named")


def test_unreadable_commit_on_a_branch_does_not_stop_main(repo: Repo) -> None:
    root = repo.commit(NORMAL)
    # `git log` shows this commit (fsck: missingEmail); libgit2 refuses to parse it.
    bad = raw_commit(repo, root, b"bad ident\n", ident=b"nobody")
    repo.git("update-ref", "refs/heads/broken", raw_commit(repo, bad, b"child\n"))
    repo.commit({"src/more.rs": "pub fn more() {}\n"})
    result = cli("backfill", "--repo", repo.path)
    assert "internal error" not in result.output
    assert result.exit_code == 0, result.output
    assert "src/more.rs:1-1  fn  more" in symbols(repo, "more")


def test_not_a_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    result = cli("backfill", "--repo", plain)
    assert_clean_error(result, "is not inside a git repository")


def garbage_file(path: Path) -> None:
    path.write_bytes(b"this is not a database\n" * 200)


def foreign_database(path: Path) -> None:
    """Another program's SQLite database (a browser's history, say)."""
    with contextlib.closing(sqlite3.connect(path)) as raw:
        raw.execute("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT)")
        raw.execute("INSERT INTO moz_places (url) VALUES ('https://example.com')")
        raw.commit()


def foreign_alembic_database(path: Path) -> None:
    """Another program's database that alembic migrates too."""
    with contextlib.closing(sqlite3.connect(path)) as raw:
        raw.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        raw.execute("INSERT INTO alembic_version VALUES ('ae1027a6acf')")
        raw.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
        raw.commit()


def future_store(path: Path) -> None:
    """A store a newer commit-indexer wrote (schema 0099)."""
    store.open_store(f"sqlite:///{path}").close()
    with contextlib.closing(sqlite3.connect(path)) as raw:
        raw.execute("UPDATE alembic_version SET version_num = '0099'")
        raw.commit()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (garbage_file, "is not a usable commit-indexer store: file is not a database"),
        (foreign_database, "is another program's database (tables moz_places)"),
        (foreign_alembic_database, "is another program's database (revision ae1027a6acf)"),
        (future_store, "was written by a newer commit-indexer (schema 0099; this one knows up"),
    ],
    ids=["garbage", "foreign", "foreign-alembic", "future"],
)
def test_a_file_that_is_not_our_store_is_refused_untouched(
    repo: Repo, tmp_path: Path, make: Callable[[Path], None], message: str
) -> None:
    repo.commit(NORMAL)
    path = tmp_path / "other.db"
    make(path)
    before = path.read_bytes()
    for command in ("backfill", "stats", "export"):
        args = [tmp_path / "out"] if command == "export" else []
        result = cli(command, *args, "--repo", repo.path, "--db", f"sqlite:///{path}")
        assert_clean_error(result, message)
        assert len(result.stderr.splitlines()) == 2  # one error line, one hint line
    assert path.read_bytes() == before


def test_a_store_whose_folder_cannot_be_made_is_a_clean_error(repo: Repo, tmp_path: Path) -> None:
    repo.commit(NORMAL)
    (tmp_path / "a-file").write_text("not a folder\n")
    url = f"sqlite:///{tmp_path / 'a-file' / 'store' / 'index.db'}"
    result = cli("backfill", "--repo", repo.path, "--db", url)
    assert_clean_error(result, "cannot create the folder of the store")
    result = cli("stats", "--repo", repo.path, "--db", url)
    assert_clean_error(result, "there is no commit-indexer store at")


@pytest.mark.parametrize("command", ["stats", "show HEAD", "symbols Config", "export OUT", "gc"])
def test_a_command_that_reads_never_creates_a_store(
    repo: Repo, tmp_path: Path, command: str
) -> None:
    repo.commit(NORMAL)
    store = tmp_path / "nonexistent" / "dir" / "x.db"
    args = [a.replace("OUT", str(tmp_path / "out")) for a in command.split()]
    result = cli(*args, "--repo", repo.path, "--db", f"sqlite:///{store}")
    assert_clean_error(result, "there is no commit-indexer store at")
    assert not (tmp_path / "nonexistent").exists() and not (tmp_path / "out").exists()
    result = cli(*args, "--repo", repo.path)  # nor the default one
    assert_clean_error(result, "there is no commit-indexer store at")
    assert not (repo.path / ".git" / "commit-indexer").exists()


def test_an_empty_file_is_a_new_store(repo: Repo, tmp_path: Path) -> None:
    """SQLite makes the file before it writes the first page, so a process killed in
    between leaves an empty file: it must work as the new store it is."""
    repo.commit(NORMAL)
    path = tmp_path / "empty.db"
    path.touch()
    assert "indexed 1 commits" in backfill(repo, "--db", f"sqlite:///{path}")


def test_locked_store(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    repo.commit(NORMAL)
    backfill(repo)
    repo.commit({"src/more.rs": "pub fn more() {}\n"})
    monkeypatch.setattr(database, "BUSY_TIMEOUT_MS", 200)  # read as each connection opens
    holder = sqlite3.connect(db_url(repo).removeprefix("sqlite:///"), isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        result = cli("backfill", "--repo", repo.path)
    finally:
        holder.close()
    assert_clean_error(result, "is locked by another process")
    assert "indexed 1 commits" in backfill(repo)  # nothing half-written blocks the retry


def test_unknown_revision(repo: Repo) -> None:
    repo.commit(NORMAL)
    backfill(repo)
    result = cli("symbols", "normal", "--at", "nonsense-rev", "--repo", repo.path)
    assert_clean_error(result, "'nonsense-rev' does not name a commit")


def test_repo_text_is_printed_as_text_never_as_markup_or_escapes(repo: Repo) -> None:
    code = (
        "pub struct Key;\n\n"
        "impl From<[u8; 32]> for Key {\n"
        "    fn from(_b: [u8; 32]) -> Self {\n"
        "        Key // \x1b]0;pwned\x07 :crab: [bold]x[/bold]\n"
        "    }\n"
        "}\n"
    )
    message = "clear \x1b[2J copy \x1b]52;c;ZWNobyBoaQ==\x07 \u202eevil"
    path = "src/[bold red]x[/bold red].rs"
    repo.commit({"src/lib.rs": "pub fn a() {}\n", path: code, "src/[/].rs": "pub fn b() {}\n"})
    repo.commit({path: code.replace("Key //", "Key {} //").replace("Key;", "Key {}")}, message)
    backfill(repo)
    for args in (("show", "HEAD"), ("show", "HEAD~1"), ("symbols", "from"), ("symbols", "b")):
        result = cli(*args, "--repo", repo.path)
        assert result.exit_code == 0, result.output
        assert "\x1b" not in result.output and "\x07" not in result.output, result.output
        assert "\u202e" not in result.output
    shown = cli("show", "HEAD", "--repo", repo.path).output
    assert "impl From<[u8; 32]> for Key" in shown and "[bold red]x[/bold red].rs" in shown
    assert "\\x1b]0;pwned\\x07 :crab: [bold]x[/bold]" in shown
    assert "\\x1b[2J" in shown and "\\u202eevil" in shown
    assert "[/].rs" in cli("symbols", "b", "--repo", repo.path).output


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KB tmpfs: a disk that fills up (needs root, as in CI; else skipped)."""
    import subprocess

    point = tmp_path / "tiny"
    point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(point)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs: {mounted.stderr.decode().strip()}")
    yield point
    subprocess.run(["umount", "-l", str(point)], check=False)


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "pt"])
def test_a_full_disk_during_export_is_a_clean_error(repo: Repo, tiny_disk: Path, fmt: str) -> None:
    from gitrepo import fast_history

    fast_history(repo, 40, files=4, fns=30)
    backfill(repo)
    result = cli("export", tiny_disk / "out", "--repo", repo.path, "--format", fmt)
    assert_clean_error(result, "cannot write the export to")
    assert "No space left on device" in result.output or "torch could not write" in result.output


@pytest.mark.parametrize(
    "url, message",
    [
        ("sqlite:///relative.db", "is a relative path"),
        ("sqlite:///:memory:", "names no file"),
        ("sqlite://", "names no file"),
        ("sqlite:///", "names no file"),
    ],
)
def test_store_urls_that_would_write_into_the_work_tree_are_refused(
    repo: Repo, url: str, message: str
) -> None:
    repo.commit(NORMAL)
    before = sorted(p.name for p in repo.path.iterdir())
    for command in ("backfill", "stats"):
        assert_clean_error(cli(command, "--repo", repo.path, "--db", url), message)
    assert sorted(p.name for p in repo.path.iterdir()) == before


def test_a_home_relative_store_url_is_in_the_home_folder(repo: Repo) -> None:
    repo.commit(NORMAL)
    backfill(repo, "--db", "sqlite:///~/stores/x.db")
    assert (Path(os.environ["HOME"]) / "stores" / "x.db").is_file()
    assert not (repo.path / "~").exists()


def test_a_folder_where_the_store_goes_is_a_clean_error(repo: Repo, tmp_path: Path) -> None:
    repo.commit(NORMAL)
    (tmp_path / "index.db").mkdir()
    for command in ("backfill", "stats", "export"):
        args = [command] + ([str(tmp_path / "out")] if command == "export" else [])
        result = cli(*args, "--repo", repo.path, "--db", f"sqlite:///{tmp_path / 'index.db'}")
        assert_clean_error(result, "is a folder, not a file")


def test_a_repo_of_another_user_is_a_clean_error(repo: Repo) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give the repo to another user")
    repo.commit(NORMAL)
    for path in [repo.path, *repo.path.rglob("*")]:
        os.lchown(path, 65534, 65534)
    assert_clean_error(cli("stats", "--repo", repo.path), "belongs to another user")
    assert "safe.directory" in cli("backfill", "--repo", repo.path).output


def test_a_torn_store_and_a_bad_port_are_clean_errors(repo: Repo, tmp_path: Path) -> None:
    from gitrepo import fast_history

    fast_history(repo, 20)
    backfill(repo)
    store = repo.path / ".git" / "commit-indexer" / "index.db"
    for suffix in ("-wal", "-shm"):
        store.with_name(store.name + suffix).unlink(missing_ok=True)
    store.write_bytes(store.read_bytes()[: store.stat().st_size // 2])  # a torn copy
    for args in (["stats"], ["show", "HEAD"], ["export", str(tmp_path / "out")], ["backfill"]):
        result = cli(*args, "--repo", repo.path)
        assert_clean_error(result, "is not a usable commit-indexer store")
    bad_port = cli("stats", "--repo", repo.path, "--db", "postgresql://u:pw@localhost:99999/x")
    assert_clean_error(bad_port, "invalid port number")
    assert "pw" not in bad_port.output.replace("postgresql", "")
