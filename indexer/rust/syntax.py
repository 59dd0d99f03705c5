"""Rust parsing: the items, `use`, `mod` and `extern crate` declarations of one blob, with
tree-sitter-rust.

This module sees bytes, never paths or commits: a blob parses to the same result
wherever it sits, which is what lets the store parse each distinct blob once.
It does not resolve names across files (that needs the tree at a commit).

Items are found by walking only the item containers (the file, inline `mod`,
`impl`, `trait` and `extern` bodies) rather than by a query cursor: a query
visits every node of every function body, which is most of the tree, while the
containers hold a few hundred nodes even in a large file. The walk keeps its own
stack, so nesting depth never meets Python's recursion limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import tree_sitter
import tree_sitter_rust

LANGUAGE = tree_sitter.Language(tree_sitter_rust.language())

SUFFIX = ".rs"  # the files this language reads: git lists the paths that end so
# Bump when extraction changes, so a store can tell which blobs an older parser saw.
# 2: blobs holding a NUL byte are binary; MAX_NESTING. 3: `#[path]`, `extern crate`.
PARSER_VERSION = 3
# What a version changed: what a blob must hold to parse differently than under the
# version before (`changed_since`); a version missing here may change any blob.
_CHANGED_BY = {3: re.compile(rb"\[\s*path\s*=|\bextern\s+crate\b")}

DEFAULT_MAX_BLOB_BYTES = 1_000_000
# Items inside more nested modules, impls and traits than this are not indexed, and
# the blob is partial ("too_deep"): each item stores its whole qualified name, so n
# nested levels cost O(n^2) in the store (5,000 nested `mod a {` in 50 kB made 110 MB).
# Real code nests a few levels.
MAX_NESTING = 32

PARSED, PARTIAL, SKIPPED = "parsed", "partial", "skipped"


# Item, Use and ModDecl are NamedTuples rather than dataclasses: a backfill moves
# millions of them from parser processes to the writer and into executemany, and
# tuples pickle small and go into the database as they are.


class Item(NamedTuple):
    """One definition. Byte offsets index the blob; lines are 1-based and inclusive.

    `start_byte` includes the doc comments and attributes just above the item,
    `item_byte` is where the item itself starts, `body_byte` where its body,
    field list or value starts (None when it has none): together they let a
    definition be shortened to its header without parsing again.
    """

    kind: str
    name: str
    qualname: str
    start_byte: int
    item_byte: int
    body_byte: int | None
    end_byte: int
    start_line: int
    end_line: int


class Use(NamedTuple):
    """One imported path, expanded: `use a::{b as c}` gives Use("a::b", alias="c").

    `scope` is the inline module the declaration sits in ("" at file level, "tests"
    inside `mod tests { .. }`); `path` is kept as written (`self::`, `super::`,
    `crate::` included) and `resolve_use` makes it absolute for a given file.
    """

    path: str
    alias: str | None
    is_glob: bool
    scope: str
    line: int


class ModDecl(NamedTuple):
    """A name bound to a module in `scope`: `mod name;` (inline=False), `mod name { .. }`
    (inline=True), or a crate's root, `extern crate crate as name;` (crate set).

    `path` is the string of its `#[path = "..."]` attribute, as written, if it has one.
    """

    name: str
    scope: str
    inline: bool
    line: int
    path: str | None = None
    crate: str | None = None


@dataclass(frozen=True)
class ParsedBlob:
    """What one blob holds. Coming back from a parser process, items, uses and mods
    are plain tuples in the same field order (see `parsing.unpack`)."""

    status: str
    reason: str | None
    items: tuple[Item, ...] = ()
    uses: tuple[Use, ...] = ()
    mods: tuple[ModDecl, ...] = ()


_SIMPLE_KINDS = {
    "struct_item": "struct",
    "enum_item": "enum",
    "union_item": "union",
    "type_item": "type",
    "associated_type": "type",
    "const_item": "const",
    "static_item": "static",
    "macro_definition": "macro",
}
_COMMENTS = ("line_comment", "block_comment")
_FN_NODES = ("function_item", "function_signature_item")
# Field ids: looking a child up by id skips a string lookup, for every item.
_BODY, _NAME, _VALUE, _TRAIT, _TYPE, _ALIAS = (
    LANGUAGE.field_id_for_name(f) for f in ("body", "name", "value", "trait", "type", "alias")
)
# The node types that hold an item or a declaration; any other ends a lead of docs.
_ITEM_NODES = frozenset(
    (
        *_FN_NODES,
        *_SIMPLE_KINDS,
        "trait_item",
        "impl_item",
        "mod_item",
        "use_declaration",
        "extern_crate_declaration",
        "foreign_mod_item",
        "ERROR",
    )
)
_STRINGS = ("string_literal", "raw_string_literal")
_PATH_NODES = ("identifier", "scoped_identifier", "self", "super", "crate", "metavariable")


def check_blob(data: bytes, max_bytes: int = DEFAULT_MAX_BLOB_BYTES) -> str | None:
    """The reason a blob cannot be parsed (binary, too_large, non_utf8), or None."""
    if len(data) > max_bytes:
        return "too_large"
    # A NUL anywhere, not only in the first 8000 bytes that git sniffs: a PostgreSQL
    # store cannot hold one in text, and both backends must store the same.
    if b"\0" in data:
        return "binary"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "non_utf8"
    return None


def changed_since(version: int, data: bytes) -> bool:
    """Could `data` parse differently now than under parser `version`? A store's blobs
    of an older parser are parsed again only if so; the others keep their rows."""
    for newer in range(version + 1, PARSER_VERSION + 1):
        changes = _CHANGED_BY.get(newer)
        if changes is None or changes.search(data):
            return True
    return False


def parse_blob(data: bytes, max_bytes: int = DEFAULT_MAX_BLOB_BYTES) -> ParsedBlob:
    """Parse one `.rs` blob. Never raises on bad input: it reports a status and reason."""
    return parse_source(data, max_bytes)[0]


def parse_source(
    data: bytes,
    max_bytes: int = DEFAULT_MAX_BLOB_BYTES,
    edited: tree_sitter.Tree | None = None,
) -> tuple[ParsedBlob, tree_sitter.Tree | None]:
    """Parse a blob, reusing `edited` (an older version's tree, already `edit`ed to
    this text) when given; the result and the tree, which is None when skipped.

    Reuse never changes the result: tree-sitter's incremental parse gives the tree a
    fresh parse gives, and a reused parse that meets a syntax error is redone fresh,
    since error recovery is the one place where the two may differ.
    """
    reason = check_blob(data, max_bytes)
    if reason:
        return ParsedBlob(SKIPPED, reason), None
    parser = tree_sitter.Parser(LANGUAGE)
    tree = parser.parse(data, edited) if edited is not None else parser.parse(data)
    if edited is not None and tree.root_node.has_error:
        tree = parser.parse(data)
    root = tree.root_node
    items, uses, mods, too_deep = _extract(root, data)
    if root.has_error:
        return ParsedBlob(PARTIAL, "syntax_error", items, uses, mods), tree
    if too_deep:
        return ParsedBlob(PARTIAL, "too_deep", items, uses, mods), tree
    return ParsedBlob(PARSED, None, items, uses, mods), tree


def _text(node: tree_sitter.Node | None) -> str:
    if node is None:
        return ""
    return node.text.decode("utf-8")


def _squash(node: tree_sitter.Node | None) -> str:
    """Node text with whitespace removed, for paths: `a :: b` -> `a::b`."""
    return "".join(_text(node).split())


def _one_line(node: tree_sitter.Node | None) -> str:
    """Node text with whitespace runs folded to one space, for impl names."""
    return " ".join(_text(node).split())


def _is_doc(start: int, data: bytes) -> bool:
    """Is the comment at `start` an outer doc comment (`///` or `/** */`)?"""
    third, fourth = data[start + 2 : start + 3], data[start + 3 : start + 4]
    if third == b"/":  # `///` but not `////`
        return fourth != b"/"
    return third == b"*" and fourth not in (b"*", b"/")  # `/**` but not `/***` or `/**/`


def _impl_name(node: tree_sitter.Node) -> str:
    trait = node.child_by_field_id(_TRAIT)
    target = _one_line(node.child_by_field_id(_TYPE))
    if trait is None:
        return f"impl {target}"
    negative = any(c.type == "!" for c in node.children)
    return f"impl {'!' if negative else ''}{_one_line(trait)} for {target}"


# (container node, module scope, qualname prefix, container kind)
_Frame = tuple[tree_sitter.Node, tuple[str, ...], tuple[str, ...], str]


def _extract(
    root: tree_sitter.Node, data: bytes
) -> tuple[tuple[Item, ...], tuple[Use, ...], tuple[ModDecl, ...], bool]:
    """The items, uses and mod declarations of a file, and whether some were left out
    for nesting deeper than MAX_NESTING."""
    items: list[Item] = []
    uses: list[Use] = []
    mods: list[ModDecl] = []
    too_deep = False
    stack: list[_Frame] = [(root, (), (), "file")]
    while stack:
        container, scope, prefix, ckind = stack.pop()
        if len(prefix) > MAX_NESTING:
            too_deep = True
            continue
        lead: tree_sitter.Node | None = None  # first doc comment/attribute above the next item
        for node in container.named_children:
            ntype = node.type
            if ntype in _COMMENTS:
                # A plain comment between docs and the item keeps them together.
                if lead is None and _is_doc(node.start_byte, data):
                    lead = node
                continue
            if ntype == "attribute_item":
                lead = lead or node
                continue
            if ntype not in _ITEM_NODES:
                lead = None
                continue
            first, lead = lead or node, None
            found = _named(node, ntype, ckind, scope, prefix, stack, uses, mods)
            if found is None:
                continue
            kind, name, body = found
            items.append(
                Item(  # positional: a third faster than by keyword, millions of times
                    kind,
                    name,
                    "::".join((*prefix, name)),
                    first.start_byte,
                    node.start_byte,
                    body.start_byte if body is not None else None,
                    node.end_byte,
                    first.start_point[0] + 1,
                    node.end_point[0] + 1,
                )
            )
    return tuple(items), tuple(uses), tuple(mods), too_deep


def _named(
    node: tree_sitter.Node,
    ntype: str,
    ckind: str,
    scope: tuple[str, ...],
    prefix: tuple[str, ...],
    stack: list[_Frame],
    uses: list[Use],
    mods: list[ModDecl],
) -> tuple[str, str, tree_sitter.Node | None] | None:
    """An item node's kind, name and body (None when it names no item). A container's
    body goes on `stack` to be walked; `use` and `mod` declarations are added to
    `uses` and `mods`."""
    body = node.child_by_field_id(_BODY)
    if ntype in _FN_NODES:
        kind = "method" if ckind in ("impl", "trait") else "fn"
        name = _text(node.child_by_field_id(_NAME))
    elif ntype in _SIMPLE_KINDS:
        kind = _SIMPLE_KINDS[ntype]
        name = _text(node.child_by_field_id(_NAME))
        if ntype in ("const_item", "static_item"):
            body = node.child_by_field_id(_VALUE)
    elif ntype == "trait_item":
        kind, name = "trait", _text(node.child_by_field_id(_NAME))
        if body is not None:
            stack.append((body, scope, (*prefix, name), "trait"))
    elif ntype == "impl_item":
        kind, name = "impl", _impl_name(node)
        if body is not None:
            stack.append((body, scope, (*prefix, name), "impl"))
    elif ntype == "mod_item":
        name = _text(node.child_by_field_id(_NAME))
        line, path = node.start_point[0] + 1, _path_attribute(node)
        mods.append(ModDecl(name, "::".join(scope), body is not None, line, path))
        if body is None:
            return None
        kind = "mod"
        stack.append((body, (*scope, name), (*prefix, name), "mod"))
    elif ntype == "use_declaration":
        uses.extend(_expand_use(node, "::".join(scope)))
        return None
    elif ntype == "extern_crate_declaration":
        crate = _text(node.child_by_field_id(_NAME))
        name = _text(node.child_by_field_id(_ALIAS)) or crate
        mods.append(ModDecl(name, "::".join(scope), False, node.start_point[0] + 1, None, crate))
        return None
    elif ntype in ("foreign_mod_item", "ERROR"):
        # extern blocks hold fns and statics; ERROR nodes hold what the parser
        # recovered around a syntax error. Both add no name to the path.
        inner = body if ntype == "foreign_mod_item" else node
        if inner is not None:
            stack.append((inner, scope, prefix, ckind))
        return None
    else:
        return None
    return (kind, name, body) if name else None


def _path_attribute(node: tree_sitter.Node) -> str | None:
    """The string of the first `#[path = "..."]` among the attributes just above
    `node` (rustc takes the first), or None. A string with escapes, or a macro for a
    value, is not read; nor is `#[cfg_attr(.., path = "..")]`."""
    found = None
    sibling = node.prev_named_sibling
    while sibling is not None and sibling.type in ("attribute_item", *_COMMENTS):
        inner = sibling.named_children if sibling.type == "attribute_item" else ()
        attribute = inner[0] if inner else None
        head = attribute.named_children[0] if attribute and attribute.named_children else None
        value = attribute.child_by_field_id(_VALUE) if attribute else None
        if _text(head) == "path" and value is not None and value.type in _STRINGS:
            parts = value.named_children
            if all(p.type == "string_content" for p in parts):
                found = "".join(_text(p) for p in parts)  # walking up: the first wins
        sibling = sibling.prev_named_sibling
    return found


def _join(prefix: str, path: str) -> str:
    return f"{prefix}::{path}" if prefix else path


def _expand_use(decl: tree_sitter.Node, scope: str) -> list[Use]:
    """Expand one `use` tree into one Use per imported path, without recursion."""
    line = decl.start_point[0] + 1
    out: list[Use] = []
    argument = decl.child_by_field_name("argument")
    stack: list[tuple[str, tree_sitter.Node | None]] = [("", argument)]
    while stack:
        prefix, node = stack.pop()
        if node is None:
            continue
        ntype = node.type
        if ntype in _PATH_NODES:
            text = _squash(node)
            # `use a::{self, b}` imports `a` itself
            path = prefix if (text == "self" and prefix) else _join(prefix, text)
            out.append(Use(path, None, False, scope, line))
        elif ntype == "use_as_clause":
            path = _squash(node.child_by_field_name("path"))
            if path == "self" and prefix:
                path = ""
            alias = _squash(node.child_by_field_name("alias"))
            out.append(Use(_join(prefix, path) if path else prefix, alias, False, scope, line))
        elif ntype == "use_wildcard":
            inner = [c for c in node.named_children if c.type in _PATH_NODES]
            path = _join(prefix, _squash(inner[0])) if inner else prefix
            out.append(Use(path, None, True, scope, line))
        elif ntype == "scoped_use_list":
            path = node.child_by_field_name("path")
            new_prefix = _join(prefix, _squash(path)) if path is not None else prefix
            stack.append((new_prefix, node.child_by_field_name("list")))
        elif ntype == "use_list":
            stack.extend((prefix, child) for child in reversed(node.named_children))
    return out


@lru_cache(maxsize=65536)
def module_path(file_path: str) -> tuple[str, ...]:
    """The module a file defines, from its path: `src/model/user.rs` -> ("crate", "model", "user").

    Cargo's conventions: the last `src/` folder is the crate root; `lib.rs`, `main.rs`
    and `mod.rs` name their folder's module. `#[path]` attributes are not followed
    here (the symbol table follows them).
    """
    parts = file_path.split("/")
    if "src" in parts:
        parts = parts[len(parts) - parts[::-1].index("src") :]
    if not parts:
        return ("crate",)
    last = parts[-1].removesuffix(".rs")
    parts = parts[:-1] if last in ("lib", "main", "mod") else [*parts[:-1], last]
    if parts[:1] == ["bin"]:  # src/bin/x.rs is a crate root of its own
        parts = []
    return ("crate", *parts)


def resolve_use(use: Use, file_path: str) -> str:
    """The absolute path of a use, for the file at `file_path`; external paths as written."""
    return resolve_use_in(use, module_path(file_path))


def resolve_use_in(use: Use, module: tuple[str, ...]) -> str:
    """The absolute path of a use in a file that is `module`: `self::` and `super::`
    made absolute; any other path as written."""
    module = (*module, *(use.scope.split("::") if use.scope else ()))
    parts = use.path.split("::")
    if parts[0] == "self":
        return "::".join((*module, *parts[1:]))
    if parts[0] == "super":
        base = list(module)
        while parts and parts[0] == "super":
            if len(base) > 1:
                base.pop()
            parts = parts[1:]
        return "::".join((*base, *parts))
    return use.path
