"""Git access with pygit2: open a repo, list ref tips, walk new commits, diff a commit.

Only git knows which blob sits at which path in which commit; this module asks it
and hands back small dataclasses. It never touches the store.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pygit2
from pygit2.enums import DiffFind, FileMode, SortMode

from indexer.errors import NotARepository, UnknownRevision

# libgit2 caches parsed commits and trees up to 256 MB by default. A backfill reads
# each tree once or twice, so the cache only grows the process. At 8 MB each of a
# backfill's three processes still grew by ~40 MB (bench/scale.py: 362 MB in all at
# 20,000 commits); 1 MB cost no measurable time and brought that to 285 MB.
OBJECT_CACHE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class CommitInfo:
    oid: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    author_time: int
    author_offset: int
    committer_time: int
    committer_offset: int
    message: str
    message_encoding: str
    is_boundary: bool  # a parent is missing (shallow clone): diffed against nothing


@dataclass(frozen=True)
class FileChange:
    """One source file (or gitlink) that a commit adds, modifies, deletes or renames."""

    status: str  # A, M, D, R
    path: str
    old_path: str | None
    old_blob: str | None
    new_blob: str | None
    entry: str  # file, symlink or submodule


def open_repo(path: str | os.PathLike[str]) -> pygit2.Repository:
    """Open the repository containing `path` (a work tree, a subfolder or a git dir)."""
    pygit2.settings.cache_max_size(OBJECT_CACHE_BYTES)
    found = pygit2.discover_repository(str(path))
    if found is None:
        raise NotARepository(
            f"{path} is not inside a git repository",
            hint="run the command inside a repository or pass --repo PATH",
        )
    try:
        return pygit2.Repository(found)
    except pygit2.GitError as exc:
        if "not owned by current user" in str(exc):
            raise NotARepository(
                f"{found} belongs to another user, and git trusts it only once told to",
                hint=f"run as its owner, or trust it: git config --global --add"
                f" safe.directory {Path(found).parent if found.endswith('/.git/') else found}",
            ) from None
        raise NotARepository(
            f"cannot open the repository at {found}: {exc}",
            hint="check it with `git status` and `git fsck`",
        ) from None


def common_dir(repo: pygit2.Repository) -> Path:
    """The git dir shared by all worktrees of a repo (where the default store lives)."""
    git_dir = Path(repo.path)
    pointer = git_dir / "commondir"
    if pointer.is_file():
        return (git_dir / pointer.read_text().strip()).resolve()
    return git_dir.resolve()


def ref_tips(repo: pygit2.Repository, remotes: bool = False) -> list[str]:
    """Commits named by HEAD, local branches and tags (and remote-tracking refs), sorted.

    Refs that name no commit (a tag of a tree or blob, a symbolic ref to nothing) are
    left out; a commit libgit2 cannot read is left to `walk` to report.
    """
    prefixes = ["refs/heads/", "refs/tags/"] + (["refs/remotes/"] if remotes else [])
    names = [n for n in repo.references if n.startswith(tuple(prefixes))]
    if not repo.head_is_unborn:
        names.append("HEAD")
    tips: set[str] = set()
    for name in names:
        try:
            target = repo.references[name].resolve().target
            obj = repo.get(target)
            while isinstance(obj, pygit2.Tag):
                obj = repo.get(obj.target)
        except (pygit2.GitError, KeyError, ValueError):
            continue
        if obj is not None and obj.type == pygit2.enums.ObjectType.COMMIT:
            tips.add(str(obj.id))
    return sorted(tips)


def resolve_commit(repo: pygit2.Repository, rev: str) -> pygit2.Commit:
    try:
        return repo.revparse_single(rev).peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError) as exc:
        raise UnknownRevision(
            f"'{rev}' does not name a commit in {repo.workdir or repo.path}",
            hint="check the name with `git rev-parse REV`",
        ) from exc


def _walk(repo: pygit2.Repository, tips: Iterable[str], hide: Iterable[str]) -> list[str]:
    walker = repo.walk(None, SortMode.TOPOLOGICAL | SortMode.REVERSE)
    for tip in tips:
        walker.push(pygit2.Oid(hex=tip))
    for oid in hide:
        try:
            walker.hide(pygit2.Oid(hex=oid))
        except (KeyError, pygit2.GitError):
            pass  # a hidden commit that git no longer has hides nothing
    return [str(commit.id) for commit in walker]


def walk(
    repo: pygit2.Repository, tips: Sequence[str], hide: Iterable[str]
) -> tuple[list[str], list[str]]:
    """Commits reachable from `tips` and not from `hide`, parents before children,
    and the tips whose history libgit2 cannot read (a malformed commit on the way).

    One walk over all tips is the fast path; only when it fails is each tip walked
    alone, so one broken branch does not stop the others.
    """
    hide = list(hide)
    try:
        return _walk(repo, tips, hide), []
    except (pygit2.GitError, KeyError, ValueError):
        pass
    order: dict[str, None] = {}
    unreadable = []
    for tip in tips:
        try:
            order.update(dict.fromkeys(_walk(repo, [tip], hide)))
        except (pygit2.GitError, KeyError, ValueError):
            unreadable.append(tip)
    return list(order), unreadable


def decode_message(raw: bytes, encoding: str | None) -> tuple[str, str]:
    """Decode a commit message with its declared encoding; (text, encoding used).

    An unknown or wrong encoding header falls back to UTF-8 and then to latin-1,
    which maps every byte, so no message is lost or raises.
    """
    candidates = [encoding or "utf-8", "utf-8"]
    for name in candidates:
        try:
            codecs.lookup(name)
            return raw.decode(name), name
        except (LookupError, UnicodeDecodeError):
            continue
    return raw.decode("latin-1"), "latin-1"


def recorded_parents(repo: pygit2.Repository, commit: pygit2.Commit) -> tuple[str, ...]:
    """The parents written in the commit object. libgit2 shows a shallow clone's
    boundary commit as parentless, so those are read from the raw header."""
    if commit.parent_ids:
        return tuple(str(p) for p in commit.parent_ids)
    _type, raw = repo.read(commit.id)
    parents = []
    for line in raw.split(b"\n"):
        if not line:
            break  # end of the header
        if line.startswith(b"parent "):
            parents.append(line[7:].decode("ascii"))
    return tuple(parents)


def is_boundary(repo: pygit2.Repository, commit: pygit2.Commit) -> bool:
    """Does this commit have parents that this (shallow) clone lacks or hides?"""
    parents = recorded_parents(repo, commit)
    return len(parents) > len(commit.parent_ids) or any(p not in repo for p in parents)


def commit_info(repo: pygit2.Repository, commit: pygit2.Commit) -> CommitInfo:
    message, encoding = decode_message(commit.raw_message, commit.message_encoding)
    author, committer = commit.author, commit.committer
    return CommitInfo(
        oid=str(commit.id),
        parents=recorded_parents(repo, commit),
        author_name=author.raw_name.decode("utf-8", "replace"),
        author_email=author.raw_email.decode("utf-8", "replace"),
        author_time=author.time,
        author_offset=author.offset,
        committer_time=committer.time,
        committer_offset=committer.offset,
        message=message,
        message_encoding=encoding,
        is_boundary=is_boundary(repo, commit),
    )


def _entry_kind(mode: int) -> str:
    if mode == FileMode.COMMIT:
        return "submodule"
    if mode == FileMode.LINK:
        return "symlink"
    return "file"


def decode_path(raw: bytes) -> str:
    """A path as text. Git paths are bytes: a name that is not UTF-8 keeps its odd
    bytes as `\\xNN` escapes, which any database can store and any terminal print."""
    return raw.decode("utf-8", "backslashreplace")


def changed_files(repo: pygit2.Repository, commit: pygit2.Commit, suffix: str) -> list[FileChange]:
    """The source files (paths ending in `suffix`, and gitlinks) a commit changes
    against its first parent.

    A root commit, or one whose parent a shallow clone lacks, is diffed against the
    empty tree, so all its files count as added. Renames are detected only when the
    commit both adds and deletes source files, since similarity costs blob reads.
    A merge keeps only the files it leaves different from every parent (what
    `git diff --cc` shows: conflict resolutions); the rest its parents already hold.
    """
    parent_tree = None
    if commit.parent_ids and commit.parent_ids[0] in repo:
        parent_tree = repo[commit.parent_ids[0]].peel(pygit2.Tree)
    if parent_tree is None:
        diff = commit.tree.diff_to_tree(swap=True)
    else:
        diff = parent_tree.diff_to_tree(commit.tree)
    deltas = list(diff.deltas)
    raw_suffix = suffix.encode()
    statuses = {d.status_char() for d in deltas if d.new_file.raw_path.endswith(raw_suffix)}
    if {"A", "D"} <= statuses:
        diff.find_similar(DiffFind.FIND_RENAMES)
        deltas = list(diff.deltas)
    changes: list[FileChange] = []
    zero = "0" * 40
    for delta in deltas:
        old, new = delta.old_file, delta.new_file
        status = delta.status_char()
        if status not in "AMDR":
            continue
        mode = new.mode if status != "D" else old.mode
        entry = _entry_kind(mode)
        old_path, new_path = decode_path(old.raw_path), decode_path(new.raw_path)
        if entry != "submodule" and not (new_path.endswith(suffix) or old_path.endswith(suffix)):
            continue
        old_blob = str(old.id) if status != "A" and str(old.id) != zero else None
        new_blob = str(new.id) if status != "D" and str(new.id) != zero else None
        changes.append(
            FileChange(
                status=status,
                path=new_path if status != "D" else old_path,
                old_path=old_path if status == "R" else None,
                old_blob=old_blob if _entry_kind(old.mode) == "file" else None,
                new_blob=new_blob if entry == "file" else None,
                entry=entry,
            )
        )
    if len(commit.parent_ids) > 1:
        others = [repo[p].peel(pygit2.Tree) for p in commit.parent_ids[1:] if p in repo]
        changes = [c for c in changes if not any(_same_entry(t, c) for t in others)]
    return changes


def _same_entry(tree: pygit2.Tree, change: FileChange) -> bool:
    """Does `tree` hold this change's result (same blob, or same absence) at its path?"""
    try:
        entry = tree[change.path]
    except KeyError:
        return change.status == "D"
    return change.status != "D" and str(entry.id) == (change.new_blob or "")


_REGULAR_FILE = (FileMode.BLOB, FileMode.BLOB_EXECUTABLE)  # not a symlink or gitlink


def source_files_from(
    base: pygit2.Commit,
    base_files: dict[str, str],
    commit: pygit2.Commit,
    suffix: str | tuple[str, ...],
) -> dict[str, str]:
    """`source_files_at(commit)`, from `base_files` (another commit's): only the entries
    the diff of the two trees touches are read, where `source_files_at` walks every
    entry of the tree (examples need the files of each commit's parent in turn)."""
    files = dict(base_files)
    for delta in base.tree.diff_to_tree(commit.tree).deltas:
        old, new = delta.old_file, delta.new_file
        files.pop(decode_path(old.raw_path), None)
        if delta.status_char() != "D" and new.mode in _REGULAR_FILE:
            path = decode_path(new.raw_path)
            if path.endswith(suffix):
                files[path] = str(new.id)
    return files


def source_files_at(repo: pygit2.Repository, commit: pygit2.Commit, suffix: str) -> dict[str, str]:
    """Every regular file in a commit's tree whose path ends in `suffix`: {path: blob oid}."""
    out: dict[str, str] = {}
    stack: list[tuple[str, pygit2.Tree]] = [("", commit.tree)]
    while stack:
        prefix, tree = stack.pop()
        for entry in tree:
            path = prefix + decode_path(entry.raw_name)
            if entry.filemode == FileMode.TREE:
                stack.append((path + "/", repo[entry.id]))
            elif entry.filemode in _REGULAR_FILE and path.endswith(suffix):
                out[path] = str(entry.id)
    return out
