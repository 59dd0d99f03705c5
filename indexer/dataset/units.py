"""Commit units (`export --unit commit`, issue 20): one example per commit, its
message, the definitions from other files its items use (each once), and the
targets of every changed item, in file and position order.

A unit is laid out like an item example, widened to many items: the definitions
first (the most used first), then each file's path, imports and the old code of
each of its modified items, then the message, then each item's marker (path, kind,
change) and its target (the new code or its search/replace blocks). Labels fall on
the targets and the end token only: the paths and item markers are given, as the
repeated path of a SEARCH/REPLACE file is.

A definition another item of the unit also edits is not shown as the commit leaves
it (`edit_` segments): that would give that item's answer away. A commit whose
items do not fit the budget together is cut into parts by file (`parts_by_file`),
a file too big alone into runs of its items: each part says "part k of n" after the
message; an item too big alone is left out, counted.

What it does not do: choose the items (the export's filters and splits do),
tokenize or fit by itself (`budget`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from indexer.dataset.budget import (
    EOS,
    Fitted,
    Part,
    SkipReason,
    _native_head,
    _plain_heading,
    encode_parts,
    fit,
    get_template,
)
from indexer.dataset.tokenizer import (
    CHANGE_TOKENS,
    COMMIT_AFTER,
    COMMIT_BEFORE,
    COMMIT_MSG,
    END,
    ENDOFTEXT,
    FILENAME,
    ITEM_TOKENS,
    NEW,
    SEGMENT_TOKENS,
    Tokenizer,
)
from indexer.shapes import (
    DEFINITION_PREFIXES,
    EDIT_PREFIX,
    IMPORTS,
    MESSAGE,
    OLD,
    PATH,
    Example,
    Segment,
)

# An item that does not fit the budget even as a unit of its own
ITEM_TOO_LONG = "unit_item_too_long"


@dataclass(frozen=True)
class UnitItem:
    example: Example  # its target as the unit shows it: the new code, or blocks
    new_code: str  # the item's new code (what an edit of the same commit would show)
    at: int  # where it starts in its file


@dataclass(frozen=True)
class UnitFile:
    path: Segment
    imports: Segment | None  # the lines its items' imports hold, each once
    items: tuple[tuple[UnitItem, Segment | None], ...]  # each with its old code


@dataclass(frozen=True)
class Unit:
    """What a unit's parts are made from: its files in path order and their items in
    position order, its message and definitions, and its part note. `segments` are
    all its segments in priority order (`fit`'s choices index them): each file's path,
    the message, each old code, each file's imports, the definitions."""

    files: tuple[UnitFile, ...]
    message: Segment | None
    definitions: tuple[Segment, ...]
    note: str  # "(part 2 of 3)", or ""

    @property
    def items(self) -> list[UnitItem]:
        return [item for f in self.files for item, _old in f.items]

    @property
    def segments(self) -> list[Segment]:
        return [
            *(f.path for f in self.files),
            *([self.message] if self.message else []),
            *(old for f in self.files for _item, old in f.items if old is not None),
            *(f.imports for f in self.files if f.imports is not None),
            *self.definitions,
        ]


def make_unit(items: Sequence[UnitItem], note: str = "") -> Unit:
    """The unit of `items` (one commit's, any order)."""
    items = sorted(items, key=lambda i: (i.example.path, i.at))
    files = []
    for path in dict.fromkeys(i.example.path for i in items):
        mine = [i for i in items if i.example.path == path]
        lines = dict.fromkeys(
            line for i in mine for line in _segment(i.example, IMPORTS).text.splitlines()
        )
        olds = [_segment(i.example, OLD) for i in mine]
        files.append(
            UnitFile(
                Segment(PATH, path),
                Segment(IMPORTS, "\n".join(lines)) if lines else None,
                tuple((i, old if old.text else None) for i, old in zip(mine, olds, strict=True)),
            )
        )
    message = next(
        (s for i in items for s in i.example.segments if s.kind == MESSAGE and s.text), None
    )
    return Unit(tuple(files), message, tuple(_definitions(items)), note)


def _segment(example: Example, kind: str) -> Segment:
    return next((s for s in example.segments if s.kind == kind), Segment(kind, ""))


def _definitions(items: Sequence[UnitItem]) -> list[Segment]:
    """The definitions from other files the items use, each once, the most used first
    (then in the order they first come); an edit of the same commit to an item the unit
    itself changes is left out (its header line is in that item's new code)."""
    uses: dict[tuple[str, str], list] = {}
    for n, item in enumerate(items):
        for s in item.example.segments:
            if s.kind.startswith(DEFINITION_PREFIXES) and s.text:
                uses.setdefault((s.kind, s.text), [0, n, s])[0] += 1
    new_code = [i.new_code for i in items]
    kept = [
        (-count, first, s)
        for count, first, s in uses.values()
        if not (s.kind.startswith(EDIT_PREFIX) and any(_header(s) in code for code in new_code))
    ]
    return [s for _count, _first, s in sorted(kept, key=lambda k: k[:2])]


def _header(segment: Segment) -> str:
    """A definition's shortest form, its header line, without the elided body."""
    return (segment.variants or (segment.text,))[-1].removesuffix(" { .. }").removesuffix(";")


def unit_parts(unit: Unit, template: str) -> list[Part]:
    """The unit as `template`'s parts (what `budget.encode_parts` tokenizes), its
    end token after the last target."""
    ranks = {id(s): n for n, s in enumerate(unit.segments)}

    def part(s: Segment, head: tuple[str, ...], tail: tuple[str, ...] = ()) -> Part:
        return Part(s.kind, ranks[id(s)], head, (s.text, *s.variants), tail)

    native, plain = template == "native", template == "plain"
    out: list[Part] = [] if native or plain else [Part("marker", None, (COMMIT_BEFORE,))]
    for s in unit.definitions:
        if native:
            out.append(part(s, _native_head(s.kind)))
        else:
            out.append(
                part(s, (_plain_heading(s.kind),) if plain else (), ("\n" if plain else "\n\n",))
            )
    for f in unit.files:
        code = [*([f.imports] if f.imports else []), *(old for _i, old in f.items if old)]
        if native:
            out.append(part(f.path, (SEGMENT_TOKENS[PATH],)))
            out += [part(s, (SEGMENT_TOKENS[s.kind],)) for s in code]
        elif plain:
            out.append(part(f.path, ("## file ",), ("\n",)))
            out += [part(s, (_plain_heading(s.kind),), ("\n",)) for s in code]
        else:
            out.append(part(f.path, (FILENAME,), ("\n",)))
            out += [part(s, (), ("\n\n",)) for s in code]
    if not native and not plain:
        out.append(Part("marker", None, (COMMIT_MSG,)))
    if unit.message:
        if native:
            out.append(part(unit.message, (SEGMENT_TOKENS[MESSAGE],)))
        else:
            out.append(part(unit.message, (_plain_heading(MESSAGE),) if plain else ()))
    if unit.note:
        out.append(Part("marker", None, (), (unit.note + "\n",)))
    if not native and not plain:
        out.append(Part("marker", None, (COMMIT_AFTER,)))
    for n, item in enumerate(unit.items):
        e = item.example
        if native:
            marks = (ITEM_TOKENS[e.kind], CHANGE_TOKENS[e.change], NEW)
            out.append(Part("marker", None, (SEGMENT_TOKENS[PATH],), (e.path,), marks))
        elif plain:
            out.append(Part("marker", None, (), (f"## new {e.kind} ({e.change}) in {e.path}\n",)))
        else:
            out.append(Part("marker", None, (FILENAME,), (e.path,), ("\n",)))
        if n == len(unit.items) - 1:
            end: tuple[str, ...] = (END if native else EOS if plain else ENDOFTEXT,)
        else:  # the next item's marker starts a line of its own
            end = () if native or e.target.endswith("\n") else ("\n",)
        out.append(Part("target", None, (), (e.target,), end))
    return out


def unit_text(unit: Unit, template: str = "native") -> str:
    """The whole unit as text, every segment whole, no budget (`show --unit commit`)."""
    pieces = [
        piece
        for p in unit_parts(unit, template)
        for piece in (*p.head, p.forms[0] if p.forms else "", *p.tail)
    ]
    return "".join("" if piece == EOS else piece for piece in pieces)


def fit_unit(
    unit: Unit,
    tokenizer: Tokenizer,
    template: str,
    max_tokens: int,
    leave_out: tuple[str, ...] = (),
    shortest: tuple[str, ...] = (),
    whole_old: bool = True,
    encode: Callable[[str], list[int]] | None = None,
) -> Fitted | None:
    """The unit fitted to `max_tokens`, or None when it does not fit: its targets,
    paths and message must go in, and each old code whole (`whole_old`: the blocks'
    searches are its lines) or shortened."""
    segments = unit.segments
    encoded = encode_parts(
        unit_parts(unit, template), len(segments), tokenizer, get_template(template), encode
    )
    fitted = fit(encoded, max_tokens, leave_out, shortest)
    if isinstance(fitted, SkipReason):
        return None
    for segment, choice in zip(segments, fitted.choices, strict=True):
        if segment.kind in (PATH, MESSAGE, OLD) and choice is None:
            return None
        if segment.kind == OLD and whole_old and choice != 0:
            return None
    return fitted


def parts_by_file(
    items: Sequence[UnitItem], fits: Callable[[Sequence[UnitItem]], bool]
) -> tuple[list[list[UnitItem]], list[UnitItem]]:
    """The items cut into parts, and those that do not fit even alone. All of them if
    they fit; else whole files in path order, as many to a part as `fits` takes (the
    first that would overflow it starts the next); a file too big alone is cut the
    same way into runs of its items in position order."""
    items = sorted(items, key=lambda i: (i.example.path, i.at))
    if fits(items):
        return [items], []
    files: dict[str, list[UnitItem]] = {}
    for item in items:
        files.setdefault(item.example.path, []).append(item)
    pieces: list[list[UnitItem]] = []
    left_out: list[UnitItem] = []
    for file_items in files.values():
        if fits(file_items):
            pieces.append(file_items)
            continue
        runs, too_big = _pack([[i] for i in file_items], fits)
        pieces += runs
        left_out += too_big
    parts, _none = _pack(pieces, fits)
    return parts, left_out


def _pack(
    pieces: list[list[UnitItem]], fits: Callable[[Sequence[UnitItem]], bool]
) -> tuple[list[list[UnitItem]], list[UnitItem]]:
    """`pieces` in order, as many to a part as fit; the items of a piece too big alone."""
    parts: list[list[UnitItem]] = []
    left_out: list[UnitItem] = []
    for piece in pieces:
        if parts and fits([*parts[-1], *piece]):
            parts[-1] += piece
        elif fits(piece):
            parts.append(list(piece))
        else:
            left_out += piece
    return parts, left_out


def part_note(k: int, n: int) -> str:
    """What a part of a commit cut in `n` says after the message."""
    return f"(part {k} of {n})" if n > 1 else ""
