"""Real git repositories in tmp dirs, the CLI in-process, and a canonical store dump."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from typer.testing import CliRunner, Result

from indexer.cli import app
from indexer.resources import resource_dir
from indexer.store.database import connect_engine

EPOCH = 1_700_000_000


@dataclass
class Repo:
    """A work tree with helpers to commit files at fixed, increasing dates."""

    path: Path
    clock: int = field(default=0)

    def git(self, *args: str, check: bool = True) -> str:
        date = f"{EPOCH + self.clock * 60} +0000"
        env = {**os.environ, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
        proc = subprocess.run(
            ["git", "-c", "commit.gpgsign=false", *args],
            cwd=self.path,
            env=env,
            capture_output=True,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr.decode()}")
        return proc.stdout.decode("utf-8", "replace").strip()

    def write(self, files: dict[str, str | bytes | None]) -> None:
        for name, content in files.items():
            target = self.path / name
            if content is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)

    def commit(self, files: dict[str, str | bytes | None], message: str = "change") -> str:
        """Write (or, with None, delete) files, stage everything and commit; the new oid."""
        self.write(files)
        self.git("add", "-A")
        self.clock += 1
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")


def make_repo(tmp_path: Path, name: str = "repo") -> Repo:
    path = tmp_path / name
    path.mkdir()
    repo = Repo(path)
    repo.git("init", "-q", "-b", "main")
    return repo


def cli(*args: str | Path) -> Result:
    """Run the real CLI in-process."""
    return CliRunner().invoke(app, [str(a) for a in args], prog_name="commit-indexer")


def history_blobs(repo: Repo) -> set[str]:
    """Every distinct blob that any commit's tree holds at a `.rs` path, per git."""
    blobs = set()
    for commit in repo.git("rev-list", "--all").split():
        for entry in repo.git("ls-tree", "-r", "-z", commit).split("\0"):
            if not entry:
                continue
            meta, path = entry.split("\t", 1)
            mode, kind, oid = meta.split()
            if kind == "blob" and mode != "120000" and path.endswith(".rs"):
                blobs.add(oid)
    return blobs


def db_url(repo: Repo) -> str:
    return f"sqlite:///{repo.path / '.git' / 'commit-indexer' / 'index.db'}"


def dump_store(url: str) -> dict[str, list[tuple]]:
    """Every row of the store, with surrogate ids replaced by natural keys, sorted:
    two stores with the same content dump equal however their rows were inserted."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        q = conn.exec_driver_sql
        dump = {
            "repos": q("SELECT path, synced_tips FROM repos").all(),
            "commits": q(
                "SELECT r.path, c.oid, c.parents, c.author_name, c.author_email, c.author_time,"
                " c.author_offset, c.committer_time, c.committer_offset, c.message,"
                " c.message_encoding, c.is_merge, c.is_boundary, c.examples_built"
                " FROM commits c JOIN repos r ON r.id = c.repo_id"
            ).all(),
            "changes": q(
                "SELECT c.oid, ch.status, ch.path, ch.old_path, ch.old_blob, ch.new_blob, ch.entry"
                " FROM changes ch JOIN commits c ON c.id = ch.commit_id"
            ).all(),
            "blobs": q("SELECT oid, size, status, reason, parser_version FROM blobs").all(),
            "items": q(
                "SELECT b.oid, i.kind, i.name, i.qualname, i.start_byte, i.item_byte,"
                " i.body_byte, i.end_byte, i.start_line, i.end_line"
                " FROM items i JOIN blobs b ON b.id = i.blob_id"
            ).all(),
            "uses": q(
                "SELECT b.oid, u.path, u.alias, u.is_glob, u.scope, u.line"
                " FROM uses u JOIN blobs b ON b.id = u.blob_id"
            ).all(),
            "mods": q(
                "SELECT b.oid, d.name, d.scope, d.inline, d.line, d.path, d.crate"
                " FROM mods d JOIN blobs b ON b.id = d.blob_id"
            ).all(),
            "examples": q(
                "SELECT c.oid, e.path, e.kind, e.name, e.qualname, e.change, x.segments,"
                " x.target, e.resolved, e.unresolved, e.secrets, x.sha256"
                " FROM examples e JOIN commits c ON c.id = e.commit_id"
                " JOIN example_contents x ON x.id = e.content_id"
            ).all(),
            "example_contents": q("SELECT sha256, segments, target FROM example_contents").all(),
            "example_skips": q(
                "SELECT c.oid, s.reason, s.count"
                " FROM example_skips s JOIN commits c ON c.id = s.commit_id"
            ).all(),
        }
    engine.dispose()
    return {table: sorted(map(tuple, rows), key=repr) for table, rows in dump.items()}


def unbuild_examples(url: str, after_id: int = 0) -> None:
    """The state a crash between a commit's two transactions leaves, for the commits
    after `after_id`: their symbols are stored, their examples are not."""
    late = f"SELECT id FROM commits WHERE id > {after_id}"
    with sa.create_engine(url).begin() as conn:
        conn.execute(sa.text(f"DELETE FROM examples WHERE commit_id IN ({late})"))
        conn.execute(sa.text(f"DELETE FROM example_skips WHERE commit_id IN ({late})"))
        conn.execute(sa.text(f"UPDATE commits SET examples_built = 0 WHERE id IN ({late})"))


def count(url: str, sql: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        value = conn.exec_driver_sql(sql).scalar_one()
    engine.dispose()
    return value


def rows(repo: Repo, sql: str, *params: object) -> list[tuple]:
    """The rows of a query on the repo's default store."""
    return rows_at(db_url(repo), sql, *params)


def rows_at(url: str, sql: str, *params: object) -> list[tuple]:
    """The rows of a query on the store at `url`."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        found = [tuple(row) for row in conn.exec_driver_sql(sql, params).all()]
    engine.dispose()
    return found


def backfill(repo: Repo, *flags: str | Path) -> str:
    """Run `backfill`, which must succeed; its output."""
    result = cli("backfill", "--repo", repo.path, *flags)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.output


def backfill_and_export(repo: Repo, out: Path, *flags: str) -> tuple[list[dict], dict]:
    """Backfill, then export (jsonl) with `flags`: every split's records, and the manifest."""
    backfill(repo)
    result = cli("export", out, "--repo", repo.path, *flags)
    assert result.exit_code == 0, result.output
    records = []
    for split in ("train", "validation", "test"):
        records += [json.loads(line) for line in (out / f"{split}.jsonl").read_text().splitlines()]
    return records, json.loads((out / "manifest.json").read_text())


def stats(repo: Repo, *flags: str | Path) -> dict[str, str]:
    """The `stats` output as {label: value}; labels fill the first 13 columns."""
    result = cli("stats", "--repo", repo.path, *flags)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line[:1].isalpha()]
    return {line[:13].strip(): line[13:] for line in lines}


def skipped(repo: Repo, line: str = "skipped", *flags: str | Path) -> dict[str, int]:
    """The `skipped` (or `partial`) line of `stats` as {reason: count}."""
    text = stats(repo, *flags)[line]
    if text == "none":
        return {}
    return {reason: int(n) for n, reason in (part.split() for part in text.split(", "))}


def file_hashes(folder: Path) -> dict[str, str]:
    """{name: sha256} of every file in `folder`."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def wait_for(url: str, sql: str, expected: int, seconds: float = 30.0) -> int:
    """Poll the store (a hook's sync runs detached) until `sql` gives `expected`."""
    deadline = time.monotonic() + seconds
    value = -1
    while time.monotonic() < deadline:
        try:
            value = count(url, sql)
        except sa.exc.OperationalError:
            value = -1  # not created yet
        if value == expected:
            return value
        time.sleep(0.05)
    return value


def wait_idle(repo: Repo, seconds: float = 30.0) -> None:
    """Wait until no hook sync holds the lock or is pending (so the next assertion sees
    the end of the hooks' work)."""
    wait_idle_at(repo.path / ".git" / "commit-indexer", seconds)


def wait_idle_at(state: Path, seconds: float = 30.0) -> None:
    """`wait_idle` for the state folder `state` (the lock is opened read-only)."""
    lock = state / "sync.lock"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not lock.exists():
            time.sleep(0.05)
            continue
        with open(lock) as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                time.sleep(0.05)
                continue
            fcntl.flock(handle, fcntl.LOCK_UN)
        if not (lock.parent / "sync.pending").exists():
            return
        time.sleep(0.05)


def rust_module(index: int, version: int, fns: int = 40) -> str:
    """A plausible Rust file whose content depends on (index, version)."""
    head = f"use crate::shared::Config{index % 3};\n\n/// Module {index}.\n"
    parts = [f"{head}pub struct S{index} {{"]
    parts.append(f"    pub v: u{8 << (version % 3)},\n}}\n")
    for n in range(fns):
        parts.append(
            f"pub fn f{index}_{n}(cfg: &Config{index % 3}) -> u64 {{\n"
            f"    let x = {n} * {version} + cfg.base;\n    x.wrapping_mul({index + 1})\n}}\n"
        )
    return "\n".join(parts)


def fast_history(repo: Repo, commits: int, files: int = 10, fns: int = 40) -> None:
    """Append `commits` linear commits to main with git fast-import, each changing one file."""
    lines: list[str] = []
    for n in range(commits):
        index = n % files
        body = rust_module(index, n, fns).encode()
        message = f"edit module {index} (#{n})".encode()
        when = EPOCH + n * 60
        lines.append("commit refs/heads/main")
        lines.append(f"committer Test Author <test@example.com> {when} +0000")
        lines.append(f"data {len(message)}")
        lines.append(message.decode())
        if n == 0 and repo.git("rev-parse", "--verify", "-q", "HEAD", check=False):
            lines.append(f"from {repo.head()}")
        lines.append(f"M 100644 inline src/m{index}.rs")
        lines.append(f"data {len(body)}")
        lines.append(body.decode())
    stream = ("\n".join(lines) + "\n").encode()
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo.path, input=stream, check=True)
    repo.git("reset", "-q", "--hard", "main")
    repo.clock += commits


def assert_clean_error(result: Result, message: str) -> None:
    """Exit 2, one `error:` saying `message`, then one `hint:`, and no traceback.

    The text is compared without whitespace, to check the words, not the layout
    (test_error_lines_are_not_wrapped checks the layout).
    """
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    errors = [i for i, line in enumerate(lines) if line.startswith("error:")]
    hints = [i for i, line in enumerate(lines) if line.startswith("hint:")]
    assert len(errors) == 1 and len(hints) == 1 and errors[0] < hints[0], result.stderr
    error = "".join(lines[errors[0] : hints[0]])
    assert "".join(message.split()) in "".join(error.split()), result.stderr


def store_at_revision(path: Path | str, revision: str) -> str:
    """A store (a SQLite file, or any URL) migrated step by step up to `revision`, as
    an older commit-indexer left it (a new store is made from the models instead)."""
    url = path if isinstance(path, str) else f"sqlite:///{path}"
    engine = connect_engine(url)
    config = Config()
    config.set_main_option("script_location", str(resource_dir("migrations")))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    engine.dispose()
    return url
