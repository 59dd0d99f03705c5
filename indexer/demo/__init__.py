"""The embedded demo: a small Rust crate with a realistic git history.

`build_demo_repo(dest)` creates a git repository at `dest` holding `roster`, a tiny
user-roster crate (config, error type, model, storage trait, services, a binary), and
41 commits of development on it. It is the repository `commit-indexer demo` indexes
(there is no network, so it is what a new user sees first) and the fixture the tests
build on.

The history is written to exercise the indexer, the way real projects do:

- modules added one by one; functions whose bodies and signatures change; methods
  added to impls; struct fields added and retyped;
- a rename: `src/db.rs` -> `src/storage.rs` (`git mv` plus a small edit, same commit);
- a struct added early and deleted later: `LegacyConfig` (see `DELETED_STRUCT`);
- a feature branch (`feature/permissions`, 4 commits) merged with `--no-ff` while main
  moved on (3 commits on other files), so the merge is real but conflict-free;
- a `git revert` that brings `src/config.rs` and `src/main.rs` back to earlier blobs;
- messages with and without a body; an annotated tag `v0.1.0`.

The Rust items cover pub structs with docs and derives, enums, a trait with required
and default methods, trait and inherent impls, generics with bounds and where-clauses,
type aliases, const and static, `macro_rules!`, inline `mod tests`, grouped, nested,
aliased and glob `use` declarations, and functions that use a struct and a trait
defined in two other files. Every version of every `.rs` file parses cleanly with
tree-sitter-rust; the crate is meant to read like real code, not to be built by cargo.

What it does not do: fetch anything, touch the user's git configuration, or depend on
it. It drives the `git` CLI with an environment stripped of `GIT_*` variables, no global
or system config, no hook templates, and fixed identities and dates (one hour apart,
from 2024-01-01 UTC), so two builds anywhere give the same commit ids.

The history is data, shipped beside this module: `history.toml` lists the steps in
order (a commit, a branch, a switch, a merge, a revert, a tag), and each commit's files
are under `history/<its folder>/`, whole, as they are after that commit: the demo's
Rust reads as Rust, one file a version. A commit step moves (`git mv`) and deletes
first, then writes its files; a merge or a revert is git's own.
"""

from __future__ import annotations

import os
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "DELETED_STRUCT",
    "FEATURE_BRANCH",
    "RENAMED_FILE",
    "REVERTED_FILES",
    "TAG",
    "DemoRepo",
    "build_demo_repo",
]

DELETED_STRUCT = "LegacyConfig"
"""A struct defined in src/config.rs from the 3rd commit until "Remove LegacyConfig"."""

RENAMED_FILE = ("src/db.rs", "src/storage.rs")
FEATURE_BRANCH = "feature/permissions"
TAG = "v0.1.0"
REVERTED_FILES = ("src/config.rs", "src/main.rs")
"""Files the revert commit brings back to the blobs they had before the reverted commit."""

_NAME = "Demo Developer"
_EMAIL = "dev@roster.example"
_EPOCH = 1704067200  # 2024-01-01T00:00:00Z
_STEP_SECONDS = 3600


_HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class DemoRepo:
    path: Path  # the work tree
    commits: int  # number of commits created
    head: str  # hex oid of HEAD


class _Git:
    """Runs git in one repository, isolated from the machine, with a commit clock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.commits = 0
        self._env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        self._env.update(
            GIT_CONFIG_GLOBAL=os.devnull,
            GIT_CONFIG_NOSYSTEM="1",
            GIT_AUTHOR_NAME=_NAME,
            GIT_AUTHOR_EMAIL=_EMAIL,
            GIT_COMMITTER_NAME=_NAME,
            GIT_COMMITTER_EMAIL=_EMAIL,
        )

    def __call__(self, *args: str, stdin: str | None = None) -> str:
        # The clock reads the number of commits made so far: commit N (from 0) is dated
        # N hours after _EPOCH; a tag gets the date the next commit will have.
        date = f"{_EPOCH + self.commits * _STEP_SECONDS} +0000"
        env = dict(self._env, GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
        done = subprocess.run(
            ["git", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", *args],
            cwd=self.path,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def commit(self, message: str) -> None:
        self("add", "-A")
        self("commit", "-q", "--cleanup=verbatim", "-F", "-", stdin=message + "\n")
        self.commits += 1

    def head(self) -> str:
        return self("rev-parse", "HEAD").strip()


def _commit_files(root: Path, git: _Git, step: dict[str, Any]) -> None:
    for src, dst in step.get("move", []):
        git("mv", src, dst)
    for path in step.get("delete", []):
        (root / path).unlink()
    written: dict[str, str] = dict(step.get("text", {}))
    if "files" in step:
        folder = _HERE / "history" / step["files"]
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            written[file.relative_to(folder).as_posix()] = file.read_text(encoding="utf-8")
    for path, text in written.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8", newline="\n")


def build_demo_repo(dest: Path) -> DemoRepo:
    """Create a git repo at dest (must not exist or be an empty dir) holding the demo crate's
    history."""
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ValueError(f"cannot build the demo repository in {dest}: it exists and is not empty")
    dest.mkdir(parents=True, exist_ok=True)
    git = _Git(dest)
    # An empty --template: no sample hooks, nothing from the machine's template dir.
    git("init", "-q", "-b", "main", "--template=")
    labels: dict[str, str] = {}
    steps = tomllib.loads((_HERE / "history.toml").read_text(encoding="utf-8"))["step"]
    for step in steps:
        if "commit" in step:
            _commit_files(dest, git, step)
            git.commit(step["commit"])
            if "label" in step:
                labels[step["label"]] = git.head()
        elif "branch" in step:
            git("switch", "-q", "-c", step["branch"])
        elif "switch" in step:
            git("switch", "-q", step["switch"])
        elif "merge" in step:
            git("merge", "-q", "--no-ff", "--no-commit", step["merge"])
            git.commit(step["message"])
        elif "revert" in step:
            oid = labels[step["revert"]]
            subject = git("log", "-1", "--format=%s", oid).strip()
            git("revert", "--no-commit", oid)
            git.commit(f'Revert "{subject}"\n\nThis reverts commit {oid}.\n\n{step["reason"]}')
        elif "tag" in step:
            git("tag", "-a", step["tag"], "-m", step["message"])
    return DemoRepo(path=dest, commits=git.commits, head=git.head())
