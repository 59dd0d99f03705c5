"""Edit targets (issue 20): the search/replace blocks that turn an item's old code
into its new code, as aider and Agentless-style tools apply them.

`edit_blocks(old, new)` gives the fewest blocks of whole lines it can: one per run of
changed lines (difflib's line diff), each search text grown by whole lines, the line
before then the line after, until it occurs once in the old code (anywhere, as a
tool's substring search finds it); blocks whose grown lines touch are one block. An
added item (no old code) is one block with an empty search. `apply_blocks` applies
them as those tools do (each search found once, in order) and `edit_blocks` checks
that they give back the new code byte for byte: when they would not, the result is
one block of the whole item, and `Edits.whole` says so. Both codes are taken with a
final newline (an item's stored code has none), so that every block is whole lines
and reads back from its text (`parse_blocks`) as it was. Line ends (CRLF), tabs and
any Unicode are kept as they are.

What it does not do: tokenize, template or export the blocks.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

SEARCH, DIVIDER, REPLACE = "<<<<<<< SEARCH\n", "=======\n", ">>>>>>> REPLACE\n"
# A block's three marker lines: aider's, and the native tokenizer's own tokens (each
# one token, where the tokenizer has them: `export --target edit --template native`).
AIDER_MARKERS = (SEARCH, DIVIDER, REPLACE)
NATIVE_MARKERS = ("<|search|>\n", "<|divide|>\n", "<|replace|>\n")


@dataclass(frozen=True)
class Block:
    search: str  # whole lines of the old code, found once in it; "" for an added item
    replace: str  # the whole lines that take their place


@dataclass(frozen=True)
class Edits:
    blocks: tuple[Block, ...]
    whole: bool = False  # the smaller blocks did not give back the new code


def edit_blocks(old: str, new: str) -> Edits:
    """The blocks that turn `old` into `new` (`old` "" for an added item)."""
    old, new = with_newline(old), with_newline(new)
    if not old:
        return Edits((Block("", new),))
    a, b = _lines(old), _lines(new)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    # the changed runs, in order; the lines between two of them are equal in both
    hunks = [[i1, i2, j1, j2] for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]
    k = 0
    while k < len(hunks):
        k = _grow(hunks, k, a, old) + 1
    # A search found once in the old code may be found twice once the blocks before
    # it are applied (a replacement can hold it): grow the first that fails, and again.
    blocks = _blocks(hunks, a, b)
    for _ in range(len(a) + 1):
        failed = _first_failing(old, blocks)
        if failed is None:
            break
        _grow(hunks, failed, a, old, force=True)
        blocks = _blocks(hunks, a, b)
    if apply_blocks(old, blocks) == new:
        return Edits(blocks)
    return Edits((Block(old, new),), whole=True)


def with_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def _lines(text: str) -> list[str]:
    """Lines with their ends, split at "\n" only (a lone "\r" is part of its line)."""
    return [line + "\n" for line in text.split("\n")[:-1]]


def _blocks(hunks: list[list[int]], a: list[str], b: list[str]) -> tuple[Block, ...]:
    return tuple(Block("".join(a[i1:i2]), "".join(b[j1:j2])) for i1, i2, j1, j2 in hunks)


def _grow(hunks: list[list[int]], k: int, a: list[str], old: str, force: bool = False) -> int:
    """Widen hunk `k` ([i1, i2, j1, j2]) a line at a time, the line before first,
    until its old lines are not empty and occur once in `old` (with `force`, by one
    line at least); a hunk it comes to touch is taken in. Hunks never touch between
    steps, so a step is over an equal line, the same in both codes. Its index then."""
    before = True
    while True:
        hunk = hunks[k]
        search = "".join(a[hunk[0] : hunk[1]])
        if not force and search and occurrences(search, old) == 1:
            return k
        force = False
        if hunk[0] == 0 and hunk[1] == len(a):
            return k  # the whole old code: found once
        if (before and hunk[0] > 0) or hunk[1] == len(a):
            hunk[0] -= 1
            hunk[2] -= 1
        else:
            hunk[1] += 1
            hunk[3] += 1
        before = not before
        start = hunk[0]
        _merge_touching(hunks)
        k = next(n for n, h in enumerate(hunks) if h[0] <= start < h[1] or h[0] == start)


def _merge_touching(hunks: list[list[int]]) -> None:
    """Hunks whose old lines touch, as one (blocks whose grown lines touch)."""
    n = 0
    while n + 1 < len(hunks):
        if hunks[n][1] >= hunks[n + 1][0]:
            hunks[n : n + 2] = [[hunks[n][0], hunks[n + 1][1], hunks[n][2], hunks[n + 1][3]]]
        else:
            n += 1


def _first_failing(old: str, blocks: tuple[Block, ...]) -> int | None:
    """The index of the first block whose search is not found once as they apply."""
    text = old
    for n, block in enumerate(blocks):
        if occurrences(block.search, text) != 1:
            return n
        text = text.replace(block.search, block.replace, 1)
    return None


def occurrences(text: str, within: str, most: int = 2) -> int:
    """How often `text` occurs in `within`, overlaps counted, up to `most`."""
    found, at = 0, within.find(text)
    while at != -1 and found < most:
        found += 1
        at = within.find(text, at + 1)
    return found


def apply_blocks(old: str, blocks: tuple[Block, ...]) -> str | None:
    """`old` with each block applied in order, as an editing tool applies them: its
    search must occur once in the text as it stands; None when one does not."""
    text = old
    for block in blocks:
        if not block.search:
            if text:
                return None  # an empty search only makes a new item
            text = block.replace
            continue
        if occurrences(block.search, text) != 1:
            return None
        text = text.replace(block.search, block.replace, 1)
    return text


def render_blocks(edits: Edits, markers: tuple[str, str, str] = AIDER_MARKERS) -> str:
    """The blocks as text, aider's format by default: `<<<<<<< SEARCH`, the search,
    `=======`, the replacement, `>>>>>>> REPLACE`, each a line of its own."""
    search, divider, replace = markers
    return "".join(search + b.search + divider + b.replace + replace for b in edits.blocks)


def parse_blocks(
    text: str, markers: tuple[str, str, str] = AIDER_MARKERS
) -> tuple[Block, ...] | None:
    """The blocks `render_blocks` wrote (what a model's output is read as); None for
    text that is not blocks."""
    SEARCH, DIVIDER, REPLACE = markers  # noqa: N806
    blocks = []
    rest = text
    while rest:
        if not rest.startswith(SEARCH):
            return None
        body = rest[len(SEARCH) :]
        # the markers stand at a line's start: a search text holds no marker line
        divider = _marker(body, DIVIDER)
        if divider is None:
            return None
        end = _marker(body[divider + len(DIVIDER) :], REPLACE)
        if end is None:
            return None
        replace_at = divider + len(DIVIDER)
        blocks.append(Block(body[:divider], body[replace_at : replace_at + end]))
        rest = body[replace_at + end + len(REPLACE) :]
    return tuple(blocks)


def _marker(text: str, marker: str) -> int | None:
    """Where `marker` first starts a line of `text`."""
    if text.startswith(marker):
        return 0
    at = text.find("\n" + marker)
    return None if at == -1 else at + 1
