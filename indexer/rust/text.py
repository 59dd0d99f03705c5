"""An item's code as text: whole lines from the start of its first line, its header
line (`pub struct Opts { .. }`), a container (impl, trait, mod) without the items
inside it, a definition as context with shorter variants (without doc comments and
attributes, then the bare header line) for a tight budget, an item's old code cut to
the lines a change touches, and `use` lines."""

from __future__ import annotations

from difflib import SequenceMatcher
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from indexer.rust.resolve import Definition
    from indexer.rust.syntax import Use

CONTAINER_KINDS = ("impl", "trait", "mod")  # items that hold other items


def _drop_docs_and_attributes(text: str) -> str:
    """Whole lines only: doc comments and single-line attributes go."""
    kept = [
        line
        for line in text.split("\n")
        if not line.lstrip().startswith(("///", "//!", "#[", "#!["))
        or (line.lstrip().startswith(("#[", "#![")) and not line.rstrip().endswith("]"))
    ]
    return "\n".join(kept)


def line_start(code: bytes, offset: int) -> int:
    """`offset`, moved back over the indentation before it on its line: item text is
    taken from the start of its first line, so every line keeps its indentation."""
    start = code.rfind(b"\n", 0, offset) + 1
    return start if not code[start:offset].strip() else offset


def item_text(code: bytes, d: Definition) -> str:
    """The item's code with its doc comments and attributes, whole lines."""
    return code[line_start(code, d.start_byte) : d.end_byte].decode()


def header(code: bytes, d: Definition) -> str:
    """The item down to its header line: `pub struct Opts { .. }`, `macro_rules! m { .. }`."""
    if d.kind == "macro" and code.startswith(b"macro_rules!", d.item_byte):
        return f"macro_rules! {d.name} {{ .. }}"
    if d.body_byte is None:
        return code[d.item_byte : d.end_byte].decode()
    head = code[d.item_byte : d.body_byte].decode().rstrip()
    opener = code[d.body_byte : d.body_byte + 1]
    if opener == b"{":
        return f"{head} {{ .. }}"
    if opener == b"(":
        return f"{head}(..);"
    return f"{head} ..;"  # a const or static value


def definition_text(
    code: bytes, d: Definition, children: list[Definition]
) -> tuple[str, tuple[str, ...]]:
    """A definition as context, and its shorter variants (longest first): whole for
    data types, signatures for traits and fns."""
    if d.kind == "fn":
        full = (header(code, d).removesuffix(" { .. }") + ";") if d.body_byte else None
        text = code[line_start(code, d.start_byte) : d.item_byte].decode() + (
            full or header(code, d)
        )
    elif d.kind == "trait":
        text = _trait_signatures(code, d, children)
    else:
        text = item_text(code, d)
    variants = []
    for shorter in (_drop_docs_and_attributes(text), header(code, d)):
        if len(shorter) < len(variants[-1] if variants else text):
            variants.append(shorter)
    return text, tuple(variants)


def _trait_signatures(code: bytes, d: Definition, children: list[Definition]) -> str:
    """The trait with each default method's body replaced by `;`."""
    out, cursor = [], d.start_byte
    for child in sorted(children, key=lambda c: c.start_byte):
        if child.kind == "method" and child.body_byte is not None:
            out.append(code[cursor : child.body_byte].decode().rstrip() + ";")
            cursor = child.end_byte
    out.append(code[cursor : d.end_byte].decode())
    return "".join(out)


def own_text(code: bytes, item: Definition, children: list[Definition]) -> str:
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


def target_text(code: bytes, item: Definition, children: list[Definition]) -> str:
    """An item as an example's target: its code; a container's without the items
    inside it, whole lines (each of those is an example of its own). A member is
    never shown cut to `{ .. }`: a model trained on that would learn to write it."""
    if item.kind not in CONTAINER_KINDS:
        return item_text(code, item)
    parts, cursor = [], line_start(code, item.start_byte)
    for child in children:
        start = line_start(code, child.start_byte)
        parts.append(code[cursor:start].decode())
        cursor = _line_end(code, child.end_byte)
    parts.append(code[cursor : item.end_byte].decode())
    lines = "".join(parts).split("\n")
    # the blank lines that stood between members: one of a run, between two lines
    # that are not the container's braces
    last = len(lines) - 1
    kept = [
        line
        for n, line in enumerate(lines)
        if line.strip()
        or (
            0 < n < last
            and lines[n - 1].strip()
            and not lines[n - 1].rstrip().endswith("{")
            and lines[n + 1].strip()
            and not lines[n + 1].lstrip().startswith("}")
        )
    ]
    return "\n".join(kept)


def _line_end(code: bytes, offset: int) -> int:
    """`offset`, moved on over the rest of its line when only spaces (or a comma)
    follow: through its newline."""
    end = code.find(b"\n", offset)
    end = len(code) if end < 0 else end
    return end + 1 if not code[offset:end].strip(b" \t\r,;") else offset


def children(items: list[Definition]) -> dict[int, list[Definition]]:
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


def imports_text(uses: list[Use], scope: str) -> str:
    """The `use` lines in force in module `scope` (the file's own and the scope's),
    each once."""
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


ELISION = "// ..."  # a line that stands for lines left out, indented as the first of them
# Old code shorter than this is never cut: some 600 tokens at most, which fit beside
# a target of its size in the smallest budget anyone trains with.
HUNKS_FROM_CHARS = 2_000
HUNK_CONTEXT = (3, 1, 0)  # lines kept around each changed run, in the shorter forms


def old_variants(old: str, new: str) -> tuple[str, ...]:
    """Shorter forms of an item's old code, longest first, for a budget it does not
    fit whole: its header line (the first after its doc comments and attributes) and
    its last, and the lines the change to `new` replaces or deletes with 3 lines of
    the old code around each run, then 1, then none; an `ELISION` line stands for
    each run of lines left out. Whole lines, as they were."""
    if len(old) < HUNKS_FROM_CHARS:
        return ()
    lines, after = old.splitlines(keepends=True), new.splitlines(keepends=True)
    # Lines in over 1% of a long item (`}`, blank) are not matched on their own
    # (autojunk): the hunks come out as well, and a 4,099-line file against itself
    # takes 10 ms instead of 63; for a small change to a long item it costs the same.
    matcher = SequenceMatcher(None, lines, after)
    head = next(
        (i for i, line in enumerate(lines) if not line.lstrip().startswith(("//", "#[", "#!["))),
        0,
    )
    variants: list[str] = []
    for context in HUNK_CONTEXT:
        runs = [(g[0][1], g[-1][2]) for g in matcher.get_grouped_opcodes(context)]
        text = _elided(lines, [(head, head + 1), *runs, (len(lines) - 1, len(lines))])
        if len(text) < len(variants[-1] if variants else old):
            variants.append(text)
    return tuple(variants)


def _elided(lines: list[str], kept: list[tuple[int, int]]) -> str:
    """`lines` with only the `kept` ranges (in order, the last line's among them), and
    an elision line in each gap."""
    out: list[str] = []
    cursor = 0
    for start, end in sorted(kept):
        if start > cursor:
            first = lines[cursor]
            out.append(first[: len(first) - len(first.lstrip())] + ELISION + "\n")
        out.extend(lines[max(start, cursor) : end])
        cursor = max(cursor, end)
    return "".join(out)
