"""Training examples: one per added or changed item of a commit, with its context.

This module holds the example's shape (`Segment`, `Example`); building examples
from the store's commits and blobs comes next to it. Tokenizing and fitting an
example into a token budget is `tokenizer.py`'s job; writing files is `export.py`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

# Segment kinds in priority order: when the budget is short, the last go first.
PATH, MESSAGE, OLD, IMPORTS = "path", "msg", "old", "imports"
# A definition from another file the change relies on: "ctx_" + the item kind
# (ctx_struct, ctx_enum, ctx_union, ctx_trait, ctx_type, ctx_const, ctx_static,
# ctx_fn, ctx_method, ctx_macro).
CONTEXT_PREFIX = "ctx_"
ITEM_KINDS = (
    "fn",
    "method",
    "struct",
    "enum",
    "union",
    "trait",
    "impl",
    "type",
    "const",
    "static",
    "macro",
    "mod",
)
SEGMENT_KINDS = (PATH, MESSAGE, OLD, IMPORTS, *(CONTEXT_PREFIX + k for k in ITEM_KINDS))


@dataclass(frozen=True)
class Segment:
    """One piece of context, stored as text.

    `variants` are shorter forms of `text`, longest first, for a definition that does
    not fit whole: without doc comments and attributes, then with bodies and field
    lists elided, down to the bare header line (`pub struct Opts { .. }`). Each is
    whole lines; nothing is ever cut mid-line.
    """

    kind: str
    text: str
    variants: tuple[str, ...] = ()


@dataclass(frozen=True)
class Example:
    """One added or changed item: the context segments in priority order and the
    item's new code (`target`), never truncated."""

    commit: str
    parent: str | None
    path: str
    kind: str  # the item kind: fn, method, struct, ...
    name: str
    qualname: str
    change: str  # "added" or "modified"
    segments: tuple[Segment, ...]
    target: str
