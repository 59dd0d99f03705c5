"""Training examples: one per added or changed item of a commit, with its context.

The example's shape is `shapes.py`'s; this module builds examples from the store's
commits and blobs, with `rust/` for the items' text and the names they use.
Tokenizing and fitting an example into a token budget, and writing files, are the
`dataset/` wing's.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import TYPE_CHECKING, NamedTuple, Protocol, TypeVar

from indexer import messages
from indexer.rust.resolve import SymbolTable, references, resolve
from indexer.rust.text import (
    children,
    definition_text,
    imports_text,
    old_variants,
    own_text,
    target_text,
)
from indexer.rust.tokens import edit_type
from indexer.secrets import DEFAULT_MODE, screen
from indexer.shapes import (
    CODE,
    CONTEXT_PREFIX,
    EDIT_PREFIX,
    IMPORTS,
    MESSAGE,
    MOVED,
    OLD,
    PATH,
    Built,
    Example,
    Segment,
)

if TYPE_CHECKING:
    from indexer.git import CommitInfo, FileChange
    from indexer.rust import Use
    from indexer.rust.resolve import Definition

T = TypeVar("T")


class Source(Protocol):
    """What building examples reads: the store's parse of each blob and git's trees."""

    def items(self, blob: str) -> list[Definition] | None:
        """The blob's items (None when the blob was not parsed: binary, too large...)."""

    def uses(self, blob: str) -> list[Use]: ...

    def code(self, blob: str) -> bytes: ...

    def table_at(self, commit: str) -> SymbolTable:
        """The symbol table of the commit's tree (its .rs files' indexed blobs)."""

    def memo(self, key: tuple, compute: Callable[[], T]) -> T:
        """`compute()`, remembered under `key` for a while (derived data of a blob)."""

    def texts(
        self, key: tuple, compute: Callable[[], tuple[str, tuple[str, ...]]]
    ) -> tuple[str, tuple[str, ...]]:
        """`compute()` (a text and its variants), remembered under `key` for a while."""


def _keyed(items: list[Definition]) -> Keyed:
    """Items keyed by kind and qualified name. A name defined twice in one file (under
    different `#[cfg]`s, say) gets its occurrence: the second `fn read` is `read#2`."""
    seen: dict[tuple[str, str], int] = {}
    keyed = []
    for item in items:
        key = (item.kind, item.qualname)
        n = seen.get(key, 0) + 1
        seen[key] = n
        keyed.append((key if n == 1 else (item.kind, f"{item.qualname}#{n}"), item))
    return keyed


def _kids(source: Source, blob: str, items: list[Definition]) -> dict[int, list[Definition]]:
    """`_children` of a blob, computed once per blob (a trait that is context for many
    changes is looked up each time)."""
    return source.memo(("children", blob), lambda: children(items))


def _definition_text(source: Source, d: Definition) -> tuple[str, tuple[str, ...]]:
    """`definition_text` of a context definition. Only a trait is shown with its
    children (its methods' signatures), so only for one are the blob's items read:
    the blob of a struct used as context may hold thousands."""

    def make() -> tuple[str, tuple[str, ...]]:
        kids: list[Definition] = []
        if d.kind == "trait":
            kids = _kids(source, d.blob, source.items(d.blob) or []).get(d.start_byte, [])
        return definition_text(source.code(d.blob), d, kids)

    # The same struct is context for many changes around it: its text is made once.
    return source.texts(("definition", d.blob, d.start_byte, d.end_byte), make)


def makes_examples(info: CommitInfo) -> bool:
    """Merges and shallow boundaries make no examples: their diff is not one author's
    change (a merge's is the other branch's work; a boundary's is the whole tree)."""
    return len(info.parents) <= 1 and not info.is_boundary


Keyed = list[tuple[tuple[str, str], "Definition"]]


class _Version(NamedTuple):
    """One side of a changed file: its code, its containers' children, its keyed items."""

    code: bytes
    kids: dict[int, list[Definition]]
    keyed: Keyed


_NO_VERSION = _Version(b"", {}, [])  # an added file, or an old one without items


def _version(source: Source, blob: str, items: list[Definition]) -> _Version:
    """A blob's side of a change. Its children and keyed items are computed once per
    blob: the new version of a file in one commit is the old version in the next."""
    keyed = source.memo(("keyed", blob), lambda: _keyed(items))
    return _Version(source.code(blob), _kids(source, blob, items), keyed)


@dataclass
class _Commit:
    """What every example of one commit shares."""

    source: Source
    info: CommitInfo
    parent: str | None
    # One segment for all of the commit's examples: a message can be long (dtolnay/syn
    # has one of 123 KB, in 341 examples), and a copy per example would hold 42 MB.
    message: Segment
    diffs: dict[str, _Diff] = field(default_factory=dict)  # the changed files, by new path
    _table: SymbolTable | None = field(default=None, repr=False)

    def table(self) -> SymbolTable:
        """The symbol table of the commit's own tree, read when the first example needs
        it: a name the commit defines in another file, or a definition it changes
        there, is found as the commit leaves it (`edited` tells which those are)."""
        if self._table is None:
            self._table = self.source.table_at(self.info.oid)
        return self._table

    def edited(self, d: Definition) -> bool:
        """Whether this commit added or changed the definition `d` of its tree: its
        file changed, and the file before held no item of its kind and name with
        the same code."""
        diff = self.diffs.get(d.path)
        if diff is None:
            return False
        code, old = diff.new.code[d.start_byte : d.end_byte], diff.old
        key, n = (d.kind, d.qualname), 1  # each of its kind and name: `_keyed`'s keys
        while (before := diff.old_by_key.get(key)) is not None:
            if old.code[before.start_byte : before.end_byte] == code:
                return False
            n += 1
            key = (d.kind, f"{d.qualname}#{n}")
        return True


def build_examples(
    source: Source, info: CommitInfo, changes: list[FileChange], secrets: str = DEFAULT_MODE
) -> Built:
    """The examples of one commit: one per added or changed item of each `.rs` file.

    Merges and shallow boundaries make none (`makes_examples`); a root commit's items
    are all added, with no context (there is no parent). Names are resolved in the
    commit's own tree: a definition in another file that the commit also adds or
    changes is shown as it leaves it, as an edit (`EDIT_PREFIX`), instead of as it
    was. Every example is scanned for credentials (`secrets`: redact or drop).
    """
    built = Built()
    if not makes_examples(info):
        return built
    parent = info.parents[0] if info.parents else None
    diffs = [d for c in changes if c.entry == "file" and (d := _diff(source, c, built))]
    by_path = {diff.change.path: diff for diff in diffs if diff.change.new_blob is not None}
    commit = _Commit(source, info, parent, message_segment(info.message), by_path)
    gone = {
        (diff.change.path, key): item
        for diff in diffs
        for key, item in diff.old.keyed
        if key not in diff.new_keys
    }
    moves = _moves(diffs, gone) if gone else {}
    built.skipped["deleted"] += len(gone) - len(moves)
    for diff in diffs:
        if diff.change.new_blob is not None:
            _file_examples(commit, diff, moves, built)
    return screen(built, secrets)


def message_segment(message: str) -> Segment:
    """The message as examples show it (`messages.clean`), with its subject line as
    the shorter form (a budget too short for the body, or `export --message subject`)."""
    text = messages.clean(message)
    subject = messages.subject(text)
    return Segment(MESSAGE, text, (subject,) if subject != text else ())


class _Diff(NamedTuple):
    """One changed file's two versions (an added file has no old one, a deleted file
    no new one)."""

    change: FileChange
    new: _Version
    old: _Version
    old_by_key: dict[tuple[str, str], Definition]
    new_keys: set[tuple[str, str]]


def _diff(source: Source, change: FileChange, built: Built) -> _Diff | None:
    new = old = _NO_VERSION
    if change.new_blob is not None:
        new_items = source.items(change.new_blob)
        if new_items is None:
            built.skipped["unparsed_blob"] += 1
            return None
        new = _version(source, change.new_blob, new_items)
    if change.old_blob is not None and change.status in "MRD":
        old_items = source.items(change.old_blob) or []
        if old_items:
            old = _version(source, change.old_blob, old_items)
    return _Diff(change, new, old, dict(old.keyed), {key for key, _item in new.keyed})


# Like git's rename detection: an item is moved when an item of its kind and name
# that the commit deletes shares at least half of its lines with it.
MOVE_SIMILARITY = 0.5

# (new path, key) -> the old version, item, and the path and qualname it came from
_Moved = dict[tuple[str, tuple[str, str]], tuple[_Version, "Definition", tuple[str, str]]]


def _moves(diffs: list[_Diff], gone: dict[tuple[str, tuple[str, str]], Definition]) -> _Moved:
    """The items the commit adds (by new path and key) that are items it deletes,
    moved (to another file, or under another name in the file: `impl Foo` that became
    `impl<T> Foo<T>`): each with the old version and item it came from. The most
    similar deleted item is taken, one of the same key first; each is taken once."""
    versions = {diff.change.path: diff.old for diff in diffs}
    by_name: dict[tuple[str, str], list[tuple[str, tuple[str, str]]]] = {}
    for where, item in gone.items():
        by_name.setdefault((item.kind, item.name), []).append(where)
    moves: _Moved = {}
    for diff in diffs:
        for key, item in diff.new.keyed:
            if key in diff.old_by_key or (item.kind, item.name) not in by_name:
                continue
            lines = _lines(diff.new.code, item)
            best, best_score = None, (False, 0.0)
            for where in by_name[(item.kind, item.name)]:
                ratio = _similarity(lines, _lines(versions[where[0]].code, gone[where]))
                score = (where[1] == key, ratio)
                if ratio >= MOVE_SIMILARITY and score > best_score:
                    best, best_score = where, score
            if best is not None:
                by_name[(item.kind, item.name)].remove(best)
                moves[(diff.change.path, key)] = (
                    versions[best[0]],
                    gone[best],
                    (best[0], best[1][1]),
                )
    return moves


def _lines(code: bytes, item: Definition) -> list[bytes]:
    return code[item.item_byte : item.end_byte].splitlines()


def _similarity(a: list[bytes], b: list[bytes]) -> float:
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    if matcher.real_quick_ratio() < MOVE_SIMILARITY or matcher.quick_ratio() < MOVE_SIMILARITY:
        return 0.0
    return matcher.ratio()


def _file_examples(commit: _Commit, diff: _Diff, moves: _Moved, built: Built) -> None:
    """Add the examples of one changed file to `built`: one per added item, and one
    per item whose own text changed (its edit typed: code, formatting, comments), or
    that moved, changed or not (MOVED: its history's split follows it)."""
    change, new = diff.change, diff.new
    assert change.new_blob is not None
    uses = commit.source.uses(change.new_blob)
    renamed = change.old_path is not None and change.old_path != change.path
    for key, item in new.keyed:
        old, before = diff.old, diff.old_by_key.get(key)
        origin = (change.old_path, key[1]) if renamed and before is not None else None
        kind: str | None = CODE
        moved = before is None and (change.path, key) in moves
        if moved:
            old, before, origin = moves[(change.path, key)]
        if before is not None:
            kind = _edit_type(new, item, old, before)
            if kind is None and not moved:
                continue  # unchanged (a renamed file's items: their history follows the file)
        example = _example(commit, change.path, uses, key[1], new, item, old, before)
        built.examples.append(dataclasses.replace(example, edit_type=kind or MOVED, origin=origin))


def _edit_type(new: _Version, item: Definition, old: _Version, before: Definition) -> str | None:
    """What changed in an item both versions hold (`tokens.edit_type`: code,
    formatting, comments), None when its own text did not change at all."""
    if new.code[item.start_byte : item.end_byte] == old.code[before.start_byte : before.end_byte]:
        return None  # the common case (a container too), decided without decoding
    own = own_text(new.code, item, new.kids.get(item.start_byte, []))
    old_own = own_text(old.code, before, old.kids.get(before.start_byte, []))
    return None if own == old_own else edit_type(old_own, own)


def _target(source: Source, version: _Version, item: Definition) -> tuple[str, Counter[str]]:
    """An item's text as a target and the names it references, made once per item: a
    commit's new code of an item is the next change's old code."""

    def make() -> tuple[str, Counter[str]]:
        text = target_text(version.code, item, version.kids.get(item.start_byte, []))
        return text, references(text.encode())

    return source.memo(("target", item.blob, item.start_byte, item.end_byte), make)


def _example(
    commit: _Commit,
    path: str,
    uses: list[Use],
    qualname: str,
    new: _Version,
    item: Definition,
    old: _Version,
    before: Definition | None,
) -> Example:
    """The example of one added (`before` None) or modified item."""
    target, refs = _target(commit.source, new, item)
    old_text = ""
    if before is not None:
        old_text, old_refs = _target(commit.source, old, before)
        refs = refs + old_refs
    found, resolved, unresolved = [], [], []
    if commit.parent is not None:  # a root commit has no parent to find names in
        found, resolved, unresolved = resolve(refs, path, uses, commit.table())
    scope = "::".join(item.qualname.split("::")[:-1])
    segments = [
        Segment(PATH, path),
        commit.message,
        Segment(OLD, old_text, old_variants(old_text, target)),
        Segment(IMPORTS, imports_text(uses, scope)),
    ]
    for definition, _count in found:
        text, variants = _definition_text(commit.source, definition)
        prefix = EDIT_PREFIX if commit.edited(definition) else CONTEXT_PREFIX
        segments.append(Segment(prefix + definition.kind, text, variants))
    return Example(
        commit=commit.info.oid,
        parent=commit.parent,
        path=path,
        kind=item.kind,
        name=item.name,
        qualname=qualname,
        change="modified" if before else "added",
        segments=tuple(segments),
        target=target,
        resolved=tuple(resolved),
        unresolved=tuple(unresolved),
    )
