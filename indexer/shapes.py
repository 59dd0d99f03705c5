"""The example's data shape, shared by building, storing, screening and exporting:
`Segment`, `Example`, `Built` (a commit's examples and what it skipped) and the segment
kinds. Data only: nothing here reads git, the store or a tokenizer."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

# Bump when what examples hold changes: a store's examples from an older version are
# built again by the next sync, and export refuses them until then.
# 1: crates from Cargo's manifests.
# 2: names resolved in the commit's own tree, the definitions it changes as edits;
#    a moved item is modified, and a deleted file's items are counted as deleted;
#    long old code has shorter forms (the changed lines, the rest elided), and a
#    macro as context shrinks to `macro_rules! m { .. }`.
# 3: `#[path]` modules and `extern crate` names.
# 4: what each edit changed (`edit_type`: code, formatting, comments, moved; formatting
#    includes what was a skipped whitespace-only change, and a move that changes
#    nothing is an example now), where a moved or renamed item came from
#    (`origin`), a container's target without its members, and messages cleaned.
# 5: a where clause's trailing comma is formatting; a message's URL footnotes go.
# 6: a line of refs whose every ref has its keyword ("Closes #57, Closes #83") goes.
BUILDER_VERSION = 6

# The type of an example's edit, what changed from its old code to its target
# (`rust.tokens`); an added item's is CODE. MOVED: an item that moved (to another
# file, or under another name) with nothing else changed, kept so that its
# history's split can follow it (`dataset.splits`).
CODE, FORMATTING, COMMENTS, MOVED = "code", "formatting", "comments", "moved"
EDIT_TYPES = (CODE, FORMATTING, COMMENTS, MOVED)

# Segment kinds in priority order: when the budget is short, the last go first.
PATH, MESSAGE, OLD, IMPORTS = "path", "msg", "old", "imports"
# A definition from another file the change relies on: "ctx_" + the item kind
# (ctx_struct, ctx_enum, ctx_union, ctx_trait, ctx_type, ctx_const, ctx_static,
# ctx_fn, ctx_method, ctx_macro).
CONTEXT_PREFIX = "ctx_"
# A definition from another file that the same commit adds or changes, as the commit
# leaves it: "edit_" + the item kind. Its own kind, so an export can leave edits out.
EDIT_PREFIX = "edit_"
DEFINITION_PREFIXES = (CONTEXT_PREFIX, EDIT_PREFIX)  # the segments of definitions
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
CONTEXT_KINDS = tuple(CONTEXT_PREFIX + k for k in ITEM_KINDS)
EDIT_KINDS = tuple(EDIT_PREFIX + k for k in ITEM_KINDS)
SEGMENT_KINDS = (PATH, MESSAGE, OLD, IMPORTS, *CONTEXT_KINDS, *EDIT_KINDS)


@dataclass(frozen=True)
class Segment:
    """One piece of context, stored as text.

    `variants` are shorter forms of `text`, longest first, for a budget it does not
    fit whole. A definition: without doc comments and attributes, then with bodies
    and field lists elided, down to the bare header line (`pub struct Opts { .. }`).
    Long old code: the lines the change touches with a few around them, the rest as
    `// ...` lines. Each is whole lines; nothing is ever cut mid-line.
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
    resolved: tuple[str, ...] = ()  # "name -> path::qualname" for each context definition
    unresolved: tuple[str, ...] = ()  # referenced names not found in another file
    secrets: tuple[str, ...] = ()  # the detector of each secret redacted (secrets.py)
    edit_type: str = CODE  # what changed: CODE, FORMATTING, COMMENTS or MOVED
    # Where the old version was, when elsewhere: (path, qualname) of a moved item, or
    # of one in a renamed file; None for an added item and one modified in place.
    origin: tuple[str, str] | None = None


# The reason an example dropped for a credential it holds is counted under.
SECRET_SKIP = "secret"


@dataclass
class Built:
    examples: list[Example] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # deleted, unparsed_blob, ...
