"""Where an export comes from, as its card and records say it: the repository's name
(`owner/name` from its `origin` remote, else its folder's), the remote's web address
without credentials, and the license its Cargo manifest (or its license files) name
at the exported commit. Read from git only, never from the work tree."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pygit2

from indexer import git

# `https://host/owner/name.git`, `ssh://git@host:22/owner/name`, `git@host:owner/name`
_REMOTE = re.compile(
    r"^(?:[a-z+]+://(?:[^@/]*@)?(?P<host>[^/:]+)(?::\d+)?/|(?:[^@/:]+@)?(?P<scp>[^/:]+):)"
    r"(?P<path>(?:[^/]+/)*?(?P<name>[^/]+/[^/]+?))(?:\.git)?/?$"
)
# The license files Rust crates ship, by the license they hold (an SPDX id, as the
# Hugging Face card takes it, lowercased).
_LICENSE_FILES = {
    "LICENSE-MIT": "mit",
    "LICENSE-APACHE": "apache-2.0",
    "UNLICENSE": "unlicense",
    "LICENSE-BSL": "bsl-1.0",
    "LICENSE-ZLIB": "zlib",
}


@dataclass(frozen=True)
class Source:
    name: str  # `owner/name`, or the folder's name
    url: str | None  # https://host/owner/name, from origin
    licenses: tuple[str, ...]  # SPDX ids, lowercased; () when none is said


def source_of(repo: pygit2.Repository, commit: pygit2.Commit) -> Source:
    name, url = _remote(repo)
    if name is None:
        workdir = repo.workdir
        name = Path(workdir).name if workdir else git.common_dir(repo).name
    return Source(name, url, _licenses(commit.tree))


def _remote(repo: pygit2.Repository) -> tuple[str | None, str | None]:
    """`owner/name` and the web address of `origin`; (None, None) for none, or for a
    path on this machine."""
    try:
        url = repo.remotes["origin"].url or ""
    except (KeyError, ValueError):
        return None, None
    found = _REMOTE.match(url.strip())
    if found is None:
        return None, None
    host = found["host"] or found["scp"]
    path = found["path"]
    return found["name"], f"https://{host}/{path}"


def _licenses(tree: pygit2.Tree) -> tuple[str, ...]:
    """The root manifest's `license` (`[package]` or `[workspace.package]`), an SPDX
    expression (`MIT OR Apache-2.0`, or the old `MIT/Apache-2.0`); else the license
    files at the root."""
    try:
        manifest = tomllib.loads(tree["Cargo.toml"].data.decode("utf-8"))
    except (KeyError, UnicodeDecodeError, tomllib.TOMLDecodeError, AttributeError):
        manifest = {}
    package = manifest.get("package") or {}
    workspace = (manifest.get("workspace") or {}).get("package") or {}
    expression = package.get("license") or workspace.get("license")
    if isinstance(expression, str) and expression.strip():
        expression = re.sub(r"\s+WITH\s+[\w.-]+", "", expression)  # an exception is no license
        ids = re.split(r"\s+(?:OR|AND)\s+|/|[()]", expression)
        return tuple(dict.fromkeys(i.strip().lower() for i in ids if i.strip()))
    return tuple(lic for name, lic in _LICENSE_FILES.items() if name in tree)
