"""The store: migrations on open, one head, the schema they build equals the models
(on SQLite and PostgreSQL); opening at once, forking, the one-writer lock."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.managers import BarrierProxy as Barrier
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from gitrepo import count, store_at_revision

from indexer import store
from indexer.resources import resource_dir
from indexer.store import commits, schema, sql
from indexer.store import examples as example_store
from indexer.store.models import metadata


def _script() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(resource_dir("migrations")))
    return ScriptDirectory.from_config(config)


def test_one_head_and_the_fast_path_agrees_with_alembic() -> None:
    heads = _script().get_heads()
    assert len(heads) == 1
    assert schema.script_head() == heads[0]
    assert schema.script_revisions() == sorted(r.revision for r in _script().walk_revisions())


def test_blank_store_is_made_from_the_models_and_stamped(
    new_store: Callable[[str], str],
) -> None:
    opened = store.open_store(new_store("new"))
    with opened.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        if conn.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    opened.close()
    assert diff == []
    assert version == _script().get_current_head()


def test_a_new_stores_stamp_is_the_one_alembic_writes(new_store: Callable[[str], str]) -> None:
    """A new store is stamped without importing alembic: the same table, key and row
    as `alembic stamp head` writes into an empty database."""
    ours, theirs = new_store("ours"), new_store("theirs")
    store.open_store(ours).close()
    config = Config()
    config.set_main_option("script_location", str(resource_dir("migrations")))
    engine = sa.create_engine(theirs)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.stamp(config, "head")
    engine.dispose()

    def version_table(url: str) -> tuple:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            columns = [
                (c["name"], str(c["type"]), c["nullable"])
                for c in inspector.get_columns("alembic_version")
            ]
            key = inspector.get_pk_constraint("alembic_version")
            rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
        engine.dispose()
        return columns, key["constrained_columns"], key["name"], [tuple(r) for r in rows]

    assert version_table(ours) == version_table(theirs)
    assert version_table(ours)[3] == [(_script().get_current_head(),)]


def test_every_migration_replayed_builds_exactly_the_models(
    new_store: Callable[[str], str],
) -> None:
    # A new store is made from the models and stamped; an old one is upgraded by the
    # migrations. Both must end with the same schema.
    url = new_store("replayed")
    store_at_revision(url, "head")
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []


def test_reopening_keeps_rows_and_does_not_migrate_again(new_store: Callable[[str], str]) -> None:
    url = new_store("index")
    first = store.open_store(url)
    with first.connect() as conn:
        rid = commits.repo_id(conn, "/some/repo/.git")
    first.close()
    again = store.open_store(url)
    with again.connect() as conn:
        assert commits.repo_id(conn, "/some/repo/.git") == rid
        assert commits.repo_id(conn, "/other/.git") != rid
    again.close()


def _open_and_add_repo(url: str, start: Barrier) -> int:
    start.wait()  # every process opens the new store at the same moment
    opened = store.open_store(url)
    with opened.connect() as conn:
        rid = commits.repo_id(conn, "/shared/.git")
    opened.close()
    return rid


def test_processes_opening_a_new_store_at_once_migrate_it_once(
    new_store: Callable[[str], str],
) -> None:
    url = new_store("raced")
    processes = 4
    context = multiprocessing.get_context("fork")
    start = context.Manager().Barrier(processes)
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        ids = list(pool.map(_open_and_add_repo, [url] * processes, [start] * processes))
    assert len(set(ids)) == 1
    assert count(url, "SELECT count(*) FROM alembic_version") == 1
    assert count(url, "SELECT count(*) FROM repos") == 1


_SESSIONS = "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
_inherited: store.Store | None = None  # a store the parent opened before forking


def _backend_pids_in_child(url: str) -> tuple[int, int]:
    assert _inherited is not None
    own = store.open_store(url)
    with own.connect() as conn, _inherited.connect() as parents:
        pid = "SELECT pg_backend_pid()"
        return conn.exec_driver_sql(pid).scalar(), parents.exec_driver_sql(pid).scalar()


def test_a_forked_child_never_uses_its_parents_connections(pg_url: str) -> None:
    """psycopg connections must not cross a fork: two processes on one socket
    interleave their messages. The child opens its own, even through an engine it
    inherited (the parent's pooled connection stays the parent's)."""
    global _inherited
    _inherited = store.open_store(pg_url)
    try:
        with _inherited.connect() as conn:  # back in the pool, open, when the child forks
            parents = set(conn.exec_driver_sql(_SESSIONS).scalars())
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(1, mp_context=context) as pool:
            own, inherited = pool.submit(_backend_pids_in_child, pg_url).result()
        assert own != inherited and not parents & {own, inherited}
        with _inherited.connect() as conn:  # the parent's connections still work
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() in parents
    finally:
        _inherited.close()
        _inherited = None


def test_the_postgresql_writer_lock_waits_for_the_holder(pg_url: str) -> None:
    first, second = store.open_store(pg_url), store.open_store(pg_url)
    acquired = threading.Event()

    def take_second() -> None:
        with second.writer():
            acquired.set()

    try:
        with first.writer():
            waiting = threading.Thread(target=take_second)
            waiting.start()
            assert not acquired.wait(0.5)  # held by the first: the second waits
        assert acquired.wait(10)  # released: the second has it
        waiting.join(10)
    finally:
        first.close()
        second.close()


def test_a_store_behind_head_is_upgraded_keeping_its_rows(tmp_path: Path) -> None:
    url = store_at_revision(tmp_path / "index.db", "0002")
    with sqlite3.connect(tmp_path / "index.db") as raw:
        raw.execute("PRAGMA foreign_keys = ON")
        raw.execute("INSERT INTO repos (path, synced_tips) VALUES ('/r/.git', 'a')")
        raw.execute(
            "INSERT INTO commits (repo_id, oid, parents, author_name, author_email,"
            " author_time, author_offset, committer_time, committer_offset, message,"
            " message_encoding, is_merge, is_boundary)"
            " VALUES (1, 'a', '', 'n', 'e', 1, 0, 1, 0, 'm', 'utf-8', 0, 0)"
        )
        # rows that reference the commit: the migration rebuilds the commits table
        raw.execute(
            "INSERT INTO changes (commit_id, status, path, entry) VALUES (1, 'A', 'x.rs', 'file')"
        )
    opened = store.open_store(url)
    with opened.connect() as conn:
        commits = conn.exec_driver_sql("SELECT oid, examples_built FROM commits").all()
        changes = conn.exec_driver_sql("SELECT commit_id, path FROM changes").all()
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        foreign_keys = conn.exec_driver_sql("PRAGMA foreign_keys").scalar()
        violations = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
    opened.close()
    assert commits == [("a", 1)]  # stored before 0003: its examples were written with it
    assert changes == [(1, "x.rs")]
    assert version == schema.script_head()
    assert foreign_keys == 1 and violations == []


def test_a_first_migration_killed_half_way_is_done_again(tmp_path: Path) -> None:
    """What a version whose migrations were not one transaction left when killed: the
    version table, some tables, no version row and no data."""
    path = tmp_path / "index.db"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        raw.execute("CREATE TABLE repos (id INTEGER PRIMARY KEY, path TEXT, synced_tips TEXT)")
    opened = store.open_store(f"sqlite:///{path}")
    with opened.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    opened.close()
    assert diff == []


def test_a_postgresql_store_at_0002_with_rows_is_upgraded(pg_url: str) -> None:
    """The revisions that alter tables with rows (0003, 0004) on PostgreSQL; SQLite's
    case is above."""
    store_at_revision(pg_url, "0002")
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO repos (path, synced_tips) VALUES ('/r/.git', '')")
        conn.exec_driver_sql(
            "INSERT INTO commits (repo_id, oid, parents, author_name, author_email,"
            " author_time, author_offset, committer_time, committer_offset, message,"
            " message_encoding, is_merge, is_boundary)"
            f" VALUES (1, '{'a' * 40}', '', 'A', 'a@b', 1, 0, 1, 0, 'm', 'utf-8', false, false)"
        )
        conn.exec_driver_sql(
            "INSERT INTO examples (commit_id, path, kind, name, qualname, change, segments,"
            " target, resolved, unresolved) VALUES (1, 'src/a.rs', 'fn', 'a', 'a', 'added',"
            """ '[["path", "src/a.rs", []]]', 'fn a() {}', '[]', '[]')"""
        )
    engine.dispose()
    opened = store.open_store(pg_url)
    with opened.connect() as conn:
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        built = conn.exec_driver_sql("SELECT oid, examples_built FROM commits").all()
        [example] = example_store.commit_examples(conn, 1, "a" * 40)
        contents = conn.exec_driver_sql("SELECT count(*) FROM example_contents").scalar()
    opened.close()
    assert version == schema.script_head()
    assert [tuple(row) for row in built] == [("a" * 40, True)]
    assert (example.target, example.segments) == ("fn a() {}", (("path", "src/a.rs", ()),))
    assert contents == 1


def test_migrations_run_from_any_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    opened = store.open_store(f"sqlite:///{tmp_path / 'x.db'}")
    opened.close()
    assert (tmp_path / "x.db").exists()


def test_a_0003_store_gets_example_contents_and_its_examples_scanned(tmp_path: Path) -> None:
    """0004 moves segments and target into example_contents (equal ones once) and
    scans the examples stored before secrets were: they are redacted."""

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(resource_dir("migrations")))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0003")
    key = "AKIA" + "Q7R2XW4ZK3LMNB5T"
    segments = '[["path", "src/a.rs", []], ["msg", "Add", []]]'
    rows = [
        (1, "a", segments, "fn a() {}"),
        (2, "a", segments, "fn a() {}"),  # an equal example of another commit
        (2, "b", segments, f'fn b() -> &str {{ "{key}" }}'),
    ]
    with engine.begin() as conn:
        q = conn.exec_driver_sql
        q("INSERT INTO repos (id, path, synced_tips) VALUES (1, '/r/.git', '')")
        for cid in (1, 2):
            q(
                "INSERT INTO commits (id, repo_id, oid, parents, author_name, author_email,"
                " author_time, author_offset, committer_time, committer_offset, message,"
                " message_encoding, is_merge, is_boundary, examples_built)"
                f" VALUES ({cid}, 1, '{cid:040x}', '', 'a', 'a@b', 0, 0, 0, 0, 'Add', 'utf-8',"
                " 0, 0, 1)"
            )
        for n, (cid, name, segs, target) in enumerate(rows, 1):
            q(
                "INSERT INTO examples (id, commit_id, path, kind, name, qualname, change,"
                " segments, target, resolved, unresolved)"
                " VALUES (?, ?, 'src/a.rs', 'fn', ?, ?, 'added', ?, ?, '[]', '[]')",
                (n, cid, name, name, segs, target),
            )
        q("INSERT INTO tokenizers (id, sha256, name, kind, data) VALUES (1, 'x', 'n', 'k', x'00')")
        q("INSERT INTO example_tokens VALUES (1, 1, 'native', x'00')")
    engine.dispose()

    opened = store.open_store(url)
    with opened.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        q = conn.exec_driver_sql
        assert q("SELECT count(*) FROM example_contents").scalar() == 2
        assert q("SELECT count(DISTINCT content_id) FROM examples WHERE name = 'a'").scalar() == 1
        assert q("SELECT count(*) FROM example_tokens").scalar() == 0
        b = example_store.commit_examples(conn, 1, f"{2:040x}")[1]
    opened.close()
    assert b.name == "b" and key not in b.target and b.secrets == ("AWSKeyDetector",)
    assert b.target == 'fn b() -> &str { "<secret:AWSKeyDetector>" }'


def test_statements_sent_to_the_driver_fail_as_sqlalchemy_errors(
    new_store: Callable[[str], str],
) -> None:
    # The hot paths bypass SQLAlchemy's execution; their failures must still be the
    # errors `database.translate_errors` and the callers know.
    opened = store.open_store(new_store("driver"))
    row = {"oid": "a" * 40, "size": 1, "status": "parsed", "reason": None, "parser_version": 1}
    with opened.connect() as conn:
        with conn.begin():
            first = sql.insert_returning_id(conn, "blobs", row)
        assert sql.rows_in(conn, "SELECT id FROM blobs WHERE oid IN", ["a" * 40]) == [(first,)]
        with pytest.raises(sa.exc.IntegrityError), conn.begin():
            sql.insert_returning_id(conn, "blobs", row)  # oid is unique
        with pytest.raises(sa.exc.DBAPIError), conn.begin():
            sql.bulk_insert(conn, "no_such_table", ("x",), [(1,)])
        with conn.begin():
            count_sql = "SELECT count(*) FROM blobs WHERE oid IN"
            assert sql.rows_in(conn, count_sql, ["a" * 40]) == [(1,)]
    opened.close()


def test_a_new_store_has_partial_indexes_on_either_backend(
    new_store: Callable[[str], str],
) -> None:
    # PostgreSQL's WHERE is attached to the models only when a PostgreSQL store is
    # opened (models.for_postgresql); a store made from the models must have it.
    url = new_store("partial")
    opened = store.open_store(url)
    names = "('ix_commits_unbuilt', 'ix_commits_boundary', 'ix_commits_repo_oid')"
    if url.startswith("sqlite"):
        query = f"SELECT name, sql FROM sqlite_master WHERE name IN {names}"
    else:
        query = f"SELECT indexname, indexdef FROM pg_indexes WHERE indexname IN {names}"
    with opened.connect() as conn:
        found = dict(conn.exec_driver_sql(query).all())
    opened.close()
    assert "WHERE" in found["ix_commits_unbuilt"]
    assert "examples_built" in found["ix_commits_unbuilt"].split("WHERE")[1]
    assert "is_boundary" in found["ix_commits_boundary"].split("WHERE")[1]
    assert "WHERE" not in found["ix_commits_repo_oid"]


def test_a_0006_store_keeps_its_mods_and_its_blobs_stay_of_their_parser(tmp_path: Path) -> None:
    """0007 adds `#[path]` and `extern crate` to mods: the rows of an older parser have
    neither, and their blobs keep its version, for the next sync to read again."""
    url = store_at_revision(tmp_path / "index.db", "0006")
    with sqlite3.connect(tmp_path / "index.db") as raw:
        raw.execute(
            "INSERT INTO blobs (id, oid, size, status, parser_version)"
            " VALUES (1, 'b', 9, 'parsed', 2)"
        )
        raw.execute(
            "INSERT INTO mods (blob_id, name, scope, inline, line) VALUES (1, 'a', '', 0, 1)"
        )
    opened = store.open_store(url)
    with opened.connect() as conn:
        mods = conn.exec_driver_sql("SELECT name, inline, path, crate FROM mods").all()
        assert commits.outdated_blobs(conn) == [("b", 2)]
    opened.close()
    assert mods == [("a", 0, None, None)]


def test_a_0007_stores_examples_are_code_edits_from_nowhere_until_rebuilt(tmp_path: Path) -> None:
    """0008 adds each example's edit type and origin; the rows before get `code` and
    none (the store's examples version has the next sync build them again)."""
    url = store_at_revision(tmp_path / "index.db", "0007")
    with sqlite3.connect(tmp_path / "index.db") as raw:
        raw.execute("INSERT INTO repos (path, synced_tips) VALUES ('/r/.git', 'a')")
        raw.execute(
            "INSERT INTO commits (repo_id, oid, parents, author_name, author_email,"
            " author_time, author_offset, committer_time, committer_offset, message,"
            " message_encoding, is_merge, is_boundary, examples_built)"
            " VALUES (1, 'a', '', 'n', 'e', 1, 0, 1, 0, 'm', 'utf-8', 0, 0, 1)"
        )
        raw.execute(
            "INSERT INTO example_contents (sha256, segments, target) VALUES ('s', '[]', 't')"
        )
        raw.execute(
            "INSERT INTO examples (commit_id, path, kind, name, qualname, change, content_id,"
            " resolved, unresolved, secrets) VALUES (1, 'a.rs', 'fn', 'f', 'f', 'added', 1,"
            " '[]', '[]', '')"
        )
    opened = store.open_store(url)
    with opened.connect() as conn:
        rows = conn.exec_driver_sql("SELECT edit_type, origin FROM examples").all()
    opened.close()
    assert rows == [("code", None)]
