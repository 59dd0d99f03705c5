"""The store: migrations on open, one head, the schema they build equals the models."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from gitrepo import store_at_revision

from indexer import schema, store
from indexer.models import metadata
from indexer.resources import resource_dir


def _script() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(resource_dir("migrations")))
    return ScriptDirectory.from_config(config)


def test_one_head_and_the_fast_path_agrees_with_alembic() -> None:
    heads = _script().get_heads()
    assert len(heads) == 1
    assert schema.script_head() == heads[0]
    assert schema.script_revisions() == sorted(r.revision for r in _script().walk_revisions())


def test_blank_store_is_made_from_the_models_and_stamped(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'index.db'}"
    opened = store.open_store(url)
    with opened.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    opened.close()
    assert diff == []
    assert version == _script().get_current_head()
    assert mode == "wal"


def test_every_migration_replayed_builds_exactly_the_models(tmp_path: Path) -> None:
    # A new store is made from the models and stamped; an old one is upgraded by the
    # migrations. Both must end with the same schema.
    url = store_at_revision(tmp_path / "replayed.db", "head")
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []


def test_reopening_keeps_rows_and_does_not_migrate_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'index.db'}"
    first = store.open_store(url)
    with first.connect() as conn:
        rid = store.repo_id(conn, "/some/repo/.git")
    first.close()
    again = store.open_store(url)
    with again.connect() as conn:
        assert store.repo_id(conn, "/some/repo/.git") == rid
        assert store.repo_id(conn, "/other/.git") != rid
    again.close()


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


def test_migrations_run_from_any_directory(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    opened = store.open_store(f"sqlite:///{tmp_path / 'x.db'}")
    opened.close()
    assert (tmp_path / "x.db").exists()


def test_a_0003_store_gets_example_contents_and_its_examples_scanned(tmp_path: Path) -> None:
    """0004 moves segments and target into example_contents (equal ones once) and
    scans the examples stored before secrets were: they are redacted."""
    from alembic import command

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
        b = store.commit_examples(conn, 1, f"{2:040x}")[1]
    opened.close()
    assert b.name == "b" and key not in b.target and b.secrets == ("AWSKeyDetector",)
    assert b.target == 'fn b() -> &str { "<secret:AWSKeyDetector>" }'
