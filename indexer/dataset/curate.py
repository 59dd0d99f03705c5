"""Which stored examples an export leaves out, and why: each filter on by default
where users of CommitPackFT and CommitChronicle would expect it, each counted (the
funnel in the manifest, the card and `stats`) and each switched off by its name
(`export --keep NAME`).

By commit (`index.messages.left_out`): bot, revert, fixup, wip, empty_message,
trivial_message. By example: moved (an item moved with nothing else changed),
formatting and comments (edits that changed only those, by Rust's tokens), trivial
(a target of fewer than `min_lines` non-blank lines), stub (a body that is only
`todo!()`, `unimplemented!()` or `unreachable!()`), shell (a container whose own part,
its members left out, holds nothing but `use` lines: `impl Foo {}` after a change of
its header; its changed members are examples of their own). By commit size: bulk (past
`max_per_commit` examples of one commit, those left out chosen by a hash of their
id, so the same ones every time). Merges and shallow boundaries make no examples.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from indexer.errors import IndexerError
from indexer.messages import COMMIT_REASONS, left_out
from indexer.rust.text import CONTAINER_KINDS
from indexer.shapes import CODE, COMMENTS, FORMATTING, MOVED

TRIVIAL, STUB, SHELL, BULK, CLONES = "trivial", "stub", "shell", "bulk", "clones"
EXAMPLE_REASONS = (MOVED, FORMATTING, COMMENTS, TRIVIAL, STUB, SHELL)
FILTERS = (*COMMIT_REASONS, *EXAMPLE_REASONS, BULK, CLONES)
# The funnel's steps in the order an export takes them: the filters, then the
# duplicates and the budget (`dedup.py`, `budget.py`).
FUNNEL_ORDER = (
    *FILTERS,
    "exact_duplicates",
    "near_duplicates",
    "edit_unreadable",
    "target_too_long",
    "old_too_long",
)
# A one-line target is a `const`, a `type` alias or `fn f() {}`.
DEFAULT_MIN_LINES = 2
# On rust-lang/log, of its code edits a cap of 32 left out 24% (19 commits: feature
# work among them, "Build out initial key values API" gave 217), 64 left out 10% (8
# commits: mass renames and rewrites), 128 left out 3%.
DEFAULT_MAX_PER_COMMIT = 64

T = TypeVar("T")


def check_keep(names: Sequence[str]) -> frozenset[str]:
    unknown = sorted(set(names) - set(FILTERS))
    if unknown:
        raise IndexerError(
            f"--keep {', '.join(unknown)}: no such filter",
            hint=f"the filters are {', '.join(FILTERS)}",
        )
    return frozenset(names)


@dataclass(frozen=True)
class Curation:
    keep: frozenset[str] = frozenset()  # the filters switched off
    min_lines: int = DEFAULT_MIN_LINES
    max_per_commit: int = DEFAULT_MAX_PER_COMMIT

    def __post_init__(self) -> None:
        if self.min_lines < 0 or self.max_per_commit < 1:
            raise IndexerError(
                f"--min-lines {self.min_lines} / --max-per-commit {self.max_per_commit}"
                " out of range",
                hint="use --min-lines 0 or more and --max-per-commit 1 or more",
            )

    def settings(self) -> dict[str, object]:
        return {
            "filters": [name for name in FILTERS if name not in self.keep],
            "kept": sorted(self.keep),
            "min_lines": self.min_lines,
            "max_per_commit": self.max_per_commit,
        }

    def commit(self, author: str, message: str) -> str | None:
        """Why a commit's examples are left out, or None."""
        reason = left_out(author, message)
        return None if reason is None or reason in self.keep else reason

    def example(self, kind: str, edit_type: str, target: str) -> str | None:
        """Why an example is left out for what it is, or None."""
        if edit_type != CODE and edit_type not in self.keep:
            return edit_type
        if TRIVIAL not in self.keep and _lines(target) < self.min_lines:
            return TRIVIAL
        if STUB not in self.keep and _STUB.search(target):
            return STUB
        if SHELL not in self.keep and kind in CONTAINER_KINDS and _empty_body(target):
            return SHELL
        return None

    def bulk(self, ids: Sequence[str]) -> set[str]:
        """Of one commit's examples (their record ids), those past `max_per_commit`."""
        if BULK in self.keep or len(ids) <= self.max_per_commit:
            return set()
        ranked = sorted(ids, key=lambda i: hashlib.sha256(i.encode()).digest())
        return set(ranked[self.max_per_commit :])


def _lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip())


# A body that is only a placeholder: `{ todo!() }`, `{ unimplemented!("...") }`.
_STUB = re.compile(
    r"\{\s*(?:todo|unimplemented|unreachable)!\s*\((?:[^()]|\([^()]*\))*\)\s*;?\s*\}\s*\Z"
)
_NOT_OWN = ("use ", "pub use ", "pub(crate) use ", "extern crate ", "//", "#[", "#![")


def _empty_body(target: str) -> bool:
    """Whether a container's target (its members left out) holds nothing of its own
    between its braces but `use` and `extern crate` lines, attributes and comments:
    `impl Foo {}` after a header change, or `mod tests { use super::*; }`."""
    lines = target.splitlines()
    opener = next((n for n, line in enumerate(lines) if line.rstrip().endswith("{")), None)
    if opener is None:
        return False  # `mod name;`, a one-line container: the trivial filter's
    inner = [line.strip() for line in lines[opener + 1 : -1]]
    return all(not line or line.startswith(_NOT_OWN) for line in inner)


@dataclass
class Funnel:
    """From commits to exported examples: how many each step left out, in order."""

    commits: int = 0
    commits_with_examples: int = 0
    examples: int = 0  # stored for those commits
    left_out: dict[str, int] = field(default_factory=dict)
    exported: dict[str, int] = field(default_factory=dict)

    def out(self, reason: str, n: int = 1) -> None:
        self.left_out[reason] = self.left_out.get(reason, 0) + n

    def ordered(self) -> dict[str, int]:
        """`left_out` in the order the steps are taken (`FUNNEL_ORDER`)."""
        order = {reason: n for n, reason in enumerate(FUNNEL_ORDER)}
        return dict(
            sorted(self.left_out.items(), key=lambda r: (order.get(r[0], len(order)), r[0]))
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "commits": self.commits,
            "commits_with_examples": self.commits_with_examples,
            "examples": self.examples,
            "left_out": self.ordered(),
            "exported": dict(self.exported),
        }
