"""Real git repositories in tmp dirs, the CLI in-process, and a canonical store dump."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

from indexer.cli import app

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


def cli(*args: str | Path):  # noqa: ANN201 (click's Result)
    """Run the real CLI in-process."""
    return CliRunner().invoke(app, [str(a) for a in args])


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
                " c.message_encoding, c.is_merge, c.is_boundary"
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
                "SELECT b.oid, d.name, d.scope, d.inline, d.line"
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


def count(url: str, sql: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        value = conn.exec_driver_sql(sql).scalar_one()
    engine.dispose()
    return value


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
