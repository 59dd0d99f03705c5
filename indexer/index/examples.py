"""Training examples: one per added or changed item of a commit, with its context.

The example's shape is `shapes.py`'s; this module builds examples from the store's
commits and blobs. Tokenizing and fitting an example into a token budget is
`tokenizer.py`'s and `budget.py`'s job; writing files is `export.py`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeVar

from indexer.index.secrets import DEFAULT_MODE, screen
from indexer.rust.resolve import SymbolTable, references, resolve
from indexer.rust.text import definition_text, header, item_text, line_start
from indexer.shapes import (
    CONTEXT_PREFIX,
    IMPORTS,
    MESSAGE,
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

CONTAINER_KINDS = ("impl", "trait", "mod")
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


def _own_text(code: bytes, item: Definition, children: list[Definition]) -> str:
    """An item's code; for a container, without the items inside it (a change to a
    method is the method's example, not its impl's)."""
    if item.kind not in CONTAINER_KINDS:
        return item_text(code, item)
    parts, cursor = [], item.start_byte
    for child in children:
        parts.append(code[cursor : child.start_byte].decode())
        cursor = child.end_byte
    parts.append(code[cursor : item.end_byte].decode())
    return "".join(parts)


def _container_target(code: bytes, item: Definition, children: list[Definition]) -> str:
    """A container as a target: its own code with each inner item cut to its header."""
    parts, cursor = [], line_start(code, item.start_byte)
    for child in children:
        parts.append(code[cursor : child.item_byte].decode())
        parts.append(header(code, child))
        cursor = child.end_byte
    parts.append(code[cursor : item.end_byte].decode())
    return "".join(parts)


def _children(items: list[Definition]) -> dict[int, list[Definition]]:
    """The items directly inside each container (an impl's methods, a mod's items),
    by the container's start byte (not its qualname: two `impl S` blocks share one),
    in file order. One sweep over the items sorted by position, with a stack of the
    containers still open."""
    inside: dict[int, list[Definition]] = {}
    stack: list[Definition] = []
    for item in sorted(items, key=lambda i: (i.start_byte, -i.end_byte)):
        while stack and item.start_byte >= stack[-1].end_byte:
            stack.pop()
        if stack:
            inside.setdefault(stack[-1].start_byte, []).append(item)
        if item.kind in CONTAINER_KINDS:
            stack.append(item)
    return inside


def _keyed(items: list[Definition]) -> list[tuple[tuple[str, str], Definition]]:
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


def _structure(
    source: Source, blob: str, items: list[Definition]
) -> tuple[dict[int, list[Definition]], list[tuple[tuple[str, str], Definition]]]:
    """A blob's containers' children and its keyed items, computed once per blob: the
    new version of a file in one commit is the old version in the next."""
    return _kids(source, blob, items), source.memo(("keyed", blob), lambda: _keyed(items))


def _kids(source: Source, blob: str, items: list[Definition]) -> dict[int, list[Definition]]:
    """`_children` of a blob, computed once per blob (a trait that is context for many
    changes is looked up each time)."""
    return source.memo(("children", blob), lambda: _children(items))


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


def _imports_text(uses: list[Use], scope: str) -> str:
    lines = []
    for use in uses:
        if use.scope not in ("", scope):
            continue
        if use.is_glob:
            lines.append(f"use {use.path}::*;")
        elif use.alias:
            lines.append(f"use {use.path} as {use.alias};")
        else:
            lines.append(f"use {use.path};")
    return "\n".join(dict.fromkeys(lines))


def makes_examples(info: CommitInfo) -> bool:
    """Merges and shallow boundaries make no examples: their diff is not one author's
    change (a merge's is the other branch's work; a boundary's is the whole tree)."""
    return len(info.parents) <= 1 and not info.is_boundary


def build_examples(
    source: Source, info: CommitInfo, changes: list[FileChange], secrets: str = DEFAULT_MODE
) -> Built:
    """The examples of one commit: one per added or changed item of each `.rs` file.

    Merges and shallow boundaries make none (`makes_examples`); a root commit's items
    are all added, with no context (there is no parent). Every example is scanned for
    credentials (`secrets`: redact or drop).
    """
    built = Built()
    if not makes_examples(info):
        return built
    parent = info.parents[0] if info.parents else None
    # One string for all of the commit's examples: a message can be long (dtolnay/syn
    # has one of 123 KB, in 341 examples), and a copy per example would hold 42 MB.
    message = info.message.rstrip("\n")
    table: SymbolTable | None = None
    for change in changes:
        if change.entry != "file" or change.new_blob is None:
            continue
        new_items = source.items(change.new_blob)
        if new_items is None:
            built.skipped["unparsed_blob"] += 1
            continue
        old_items: list[Definition] = []
        if change.old_blob is not None and change.status in "MR":
            old_items = source.items(change.old_blob) or []
        new_code = source.code(change.new_blob)
        old_code = source.code(change.old_blob) if old_items else b""
        new_kids, new_keyed = _structure(source, change.new_blob, new_items)
        old_kids, old_keyed = (
            _structure(source, change.old_blob, old_items) if old_items else ({}, [])
        )
        old_by_key = dict(old_keyed)
        new_keys = {key for key, _item in new_keyed}
        built.skipped["deleted"] += sum(1 for key in old_by_key if key not in new_keys)
        uses = source.uses(change.new_blob)
        for key, item in new_keyed:
            old = old_by_key.get(key)
            if old is not None:
                if (
                    new_code[item.start_byte : item.end_byte]
                    == old_code[old.start_byte : old.end_byte]
                ):
                    continue  # the common case (a container too), decided without decoding
                own = _own_text(new_code, item, new_kids.get(item.start_byte, []))
                old_own = _own_text(old_code, old, old_kids.get(old.start_byte, []))
                if own == old_own:
                    continue
                if own.split() == old_own.split():
                    built.skipped["whitespace_only"] += 1
                    continue
            if item.kind in CONTAINER_KINDS:
                target = _container_target(new_code, item, new_kids.get(item.start_byte, []))
                old_text = (
                    _container_target(old_code, old, old_kids.get(old.start_byte, []))
                    if old
                    else ""
                )
            else:
                target = item_text(new_code, item)
                old_text = item_text(old_code, old) if old else ""
            if table is None:
                table = source.table_at(parent) if parent else SymbolTable({})
            refs = references(target.encode())
            if old_text:
                refs = refs + references(old_text.encode())
            found, resolved, unresolved = resolve(refs, change.path, uses, table)
            scope = "::".join(item.qualname.split("::")[:-1])
            segments = [
                Segment(PATH, change.path),
                Segment(MESSAGE, message),
                Segment(OLD, old_text),
                Segment(IMPORTS, _imports_text(uses, scope)),
            ]
            for definition, _count in found:
                text, variants = _definition_text(source, definition)
                segments.append(Segment(CONTEXT_PREFIX + definition.kind, text, variants))
            built.examples.append(
                Example(
                    commit=info.oid,
                    parent=parent,
                    path=change.path,
                    kind=item.kind,
                    name=item.name,
                    qualname=key[1],
                    change="modified" if old else "added",
                    segments=tuple(segments),
                    target=target,
                    resolved=tuple(resolved),
                    unresolved=tuple(unresolved),
                )
            )
    return screen(built, secrets)
