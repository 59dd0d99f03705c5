"""Templates, and fitting an example into a token budget.

A template says how an example's segments and target become text with marker
tokens: `native` uses our `<|...|>` tokens, `starcoder` the model's own commit tokens
(no new tokens, so no embedding resize), `plain` section headings written as text and
the model's own end-of-text token (any model: Qwen, DeepSeek-Coder, Llama, ...).
`encode_example` tokenizes every piece once (each segment, each of its shorter
variants, the target, the markers); `fit` then fills a token budget by priority
without tokenizing again, and `render_text` gives the exact text the fitted ids
decode to.

What it does not do: make tokenizers (`tokenizer.py`), build examples, store or
export them, or make tensors.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from indexer.dataset.tokenizer import (
    CHANGE_TOKENS,
    COMMIT_AFTER,
    COMMIT_BEFORE,
    COMMIT_MSG,
    END,
    END_OF_TEXT_TOKENS,
    ENDOFTEXT,
    FILENAME,
    ITEM_TOKENS,
    NEW,
    SEGMENT_TOKENS,
    SPECIAL_TOKENS,
    STARCODER_TOKENS,
    Tokenizer,
)
from indexer.errors import IndexerError
from indexer.shapes import (
    CONTEXT_PREFIX,
    DEFINITION_PREFIXES,
    EDIT_PREFIX,
    IMPORTS,
    MESSAGE,
    OLD,
    PATH,
    SEGMENT_KINDS,
    Example,
)


@dataclass(frozen=True)
class Part:
    """One span of a rendered example. `head` and `tail` are marker and separator
    text (special tokens are looked up by id, other text is encoded); `forms` is the
    body: a segment's text then its variants, longest first, or the target."""

    kind: str  # a segment kind, "marker" or "target"
    rank: int | None  # the segment's index in example.segments; None otherwise
    head: tuple[str, ...] = ()
    forms: tuple[str, ...] = ()
    tail: tuple[str, ...] = ()


@dataclass(frozen=True)
class Template:
    name: str
    tokens: tuple[str, ...]  # special tokens it uses: each must be one token (or EOS)
    end: str  # the token that ends an example, one of `tokens`
    parts: Callable[[Example], list[Part]]
    hint: str  # what to do when a tokenizer lacks one of `tokens`


def _segments_by_group(example: Example, groups: Sequence[str]) -> dict[str, list[Part]]:
    """Each non-empty segment as a Part (head/tail to be filled), under its group:
    its kind, or "ctx" for definitions from other files, edits of the same commit
    among them (kept in priority order)."""
    out: dict[str, list[Part]] = {g: [] for g in groups}
    for rank, seg in enumerate(example.segments):
        if seg.kind not in SEGMENT_KINDS:
            raise IndexerError(f"unknown segment kind {seg.kind!r}")
        if seg.text:
            group = "ctx" if seg.kind.startswith(DEFINITION_PREFIXES) else seg.kind
            out[group].append(Part(seg.kind, rank, forms=(seg.text, *seg.variants)))
    return out


def _native_head(kind: str) -> tuple[str, ...]:
    """A segment's marker: its kind's token; an edit of the same commit is its item
    kind's context token then `<|new|>` (`<|ctx_struct|><|new|>`: the struct as the
    commit leaves it)."""
    if kind.startswith(EDIT_PREFIX):
        return (SEGMENT_TOKENS[CONTEXT_PREFIX + kind.removeprefix(EDIT_PREFIX)], NEW)
    return (SEGMENT_TOKENS[kind],)


def _native_parts(example: Example) -> list[Part]:
    """`<|path|>p<|imports|>u<|ctx_struct|>d…<|old|>o<|msg|>m<|item_fn|><|modified|>
    <|new|>TARGET<|end|>`: context first, the old code and message nearest the new
    code (the order of StarCoder's commits), the target last."""
    if example.kind not in ITEM_TOKENS or example.change not in CHANGE_TOKENS:
        raise IndexerError(f"unknown item kind or change: {example.kind!r}, {example.change!r}")
    groups = _segments_by_group(example, (PATH, IMPORTS, "ctx", OLD, MESSAGE))
    parts = [
        Part(p.kind, p.rank, _native_head(p.kind), p.forms)
        for group in groups.values()
        for p in group
    ]
    head = (ITEM_TOKENS[example.kind], CHANGE_TOKENS[example.change], NEW)
    return [*parts, Part("target", None, head, (example.target,), (END,))]


def _starcoder_parts(example: Example) -> list[Part]:
    """`<filename>p<commit_before>u\\n\\nd\\n\\n…o<commit_msg>m<commit_after>TARGET<|endoftext|>`:
    the old side of the commit holds what the new item is written against (imports,
    definitions from other files, a blank line after each), then its old code; the
    commit markers are always there, even around an empty side."""
    g = _segments_by_group(example, (PATH, IMPORTS, "ctx", OLD, MESSAGE))
    return [
        *(Part(p.kind, p.rank, (FILENAME,), p.forms) for p in g[PATH]),
        Part("marker", None, (COMMIT_BEFORE,)),
        *(Part(p.kind, p.rank, (), p.forms, ("\n\n",)) for p in (*g[IMPORTS], *g["ctx"])),
        *g[OLD],
        Part("marker", None, (COMMIT_MSG,)),
        *g[MESSAGE],
        Part("target", None, (COMMIT_AFTER,), (example.target,), (ENDOFTEXT,)),
    ]


# The plain template's stand-in for the tokenizer's own end-of-text token (`eos_id`).
EOS = "\0eos"


def _plain_heading(kind: str) -> str:
    """A segment's heading in the plain template: `## imports`, `## struct from
    another file`, `## struct from another file, as this commit leaves it`."""
    if kind.startswith(EDIT_PREFIX):
        return f"## {kind.removeprefix(EDIT_PREFIX)} from another file, as this commit leaves it\n"
    if kind.startswith(CONTEXT_PREFIX):
        return f"## {kind.removeprefix(CONTEXT_PREFIX)} from another file\n"
    return {IMPORTS: "## imports\n", OLD: "## old code\n", MESSAGE: "## commit message\n"}[kind]


def _plain_parts(example: Example) -> list[Part]:
    """`## file src/a.rs\n## imports\nu\n## struct from another file\nd\n…## old code\n
    o\n## commit message\nm\n## new fn (modified)\nTARGET<eos>`: native's order,
    with headings the tokenizer encodes as ordinary text, so no token is new to it."""
    g = _segments_by_group(example, (PATH, IMPORTS, "ctx", OLD, MESSAGE))
    head = f"## new {example.kind} ({example.change})\n"
    return [
        *(Part(p.kind, p.rank, ("## file ",), p.forms, ("\n",)) for p in g[PATH]),
        *(
            Part(p.kind, p.rank, (_plain_heading(p.kind),), p.forms, ("\n",))
            for p in (*g[IMPORTS], *g["ctx"], *g[OLD], *g[MESSAGE])
        ),
        Part("target", None, (head,), (example.target,), (EOS,)),
    ]


TEMPLATES = {
    "native": Template(
        "native",
        SPECIAL_TOKENS,
        END,
        _native_parts,
        "use the native tokenizer, or the template of the model whose tokenizer this is"
        " (`--template starcoder` for StarCoder's)",
    ),
    "starcoder": Template(
        "starcoder",
        STARCODER_TOKENS,
        ENDOFTEXT,
        _starcoder_parts,
        "the starcoder template needs the model's own tokenizer (StarCoder's "
        "tokenizer.json); `--template plain` goes with any model's",
    ),
    "plain": Template(
        "plain",
        (EOS,),
        EOS,
        _plain_parts,
        "the plain template ends each example with the tokenizer's end-of-text token,"
        f" one of {', '.join(END_OF_TEXT_TOKENS)}; give the model's own tokenizer",
    ),
}


def _token_id(tokenizer: Tokenizer, token: str) -> int | None:
    return tokenizer.eos_id if token == EOS else tokenizer.token_id(token)


def end_token(template: str, tokenizer: Tokenizer) -> str:
    """The token that ends an example of `template` with `tokenizer`, as the
    tokenizer spells it (`</s>`, though Llama's decodes to nothing): a trainer's
    `eos_token`."""
    tpl = get_template(template)
    i = _marker_ids(tokenizer, tpl.end, tpl)[0]
    return tokenizer.piece(i)


def fitting_templates(tokenizer: Tokenizer) -> list[str]:
    """The templates whose special tokens are each one token of `tokenizer`, in the
    order of TEMPLATES (native first: a tokenizer with our tokens was made for it)."""
    return [
        name
        for name, template in TEMPLATES.items()
        if all(_token_id(tokenizer, token) is not None for token in template.tokens)
    ]


def get_template(name: str) -> Template:
    if name not in TEMPLATES:
        raise IndexerError(f"unknown template {name!r}", f"use one of: {', '.join(TEMPLATES)}")
    return TEMPLATES[name]


def _marker_ids(tokenizer: Tokenizer, text: str, template: Template) -> tuple[int, ...]:
    """Ids of a marker or separator, cached on the tokenizer; a template's special
    token must be one token of the tokenizer, never spelled out in pieces."""
    key = f"{template.name}\0{text}"
    if key not in tokenizer._markers:
        if text in template.tokens:
            i = _token_id(tokenizer, text)
            if i is None:
                token = "end-of-text token" if text == EOS else f"token {text}"
                raise IndexerError(
                    f"tokenizer {tokenizer.name} has no {token}, which the "
                    f"{template.name} template needs",
                    template.hint,
                )
            tokenizer._markers[key] = (i,)
        else:
            tokenizer._markers[key] = tuple(tokenizer.encode(text))
    return tokenizer._markers[key]


def _typecode(vocab_size: int) -> str:
    """The smallest unsigned array type that holds every id."""
    if vocab_size <= 1 << 16:
        return "H"
    assert array("I").itemsize == 4 and vocab_size <= 1 << 32, vocab_size
    return "I"


@dataclass(frozen=True)
class EncodedPart:
    kind: str
    rank: int | None
    head: array
    forms: tuple[array, ...]
    tail: array


@dataclass(frozen=True)
class EncodedExample:
    """Every piece of an example tokenized once, for one tokenizer and template: what
    the store caches, and all `fit` needs for any budget."""

    template: str
    n_segments: int
    parts: tuple[EncodedPart, ...]

    def to_bytes(self) -> bytes:
        """Compact and portable: a header, lengths as uint32, ids as uint16 or uint32,
        all little-endian."""
        typecode = self.parts[0].head.typecode if self.parts else "H"
        meta = array("I", [self.n_segments, len(self.parts)])
        ids = array(typecode)
        for p in self.parts:
            meta.extend([_PART_KINDS.index(p.kind), 0 if p.rank is None else p.rank + 1])
            meta.extend([len(p.head), len(p.forms), *map(len, p.forms), len(p.tail)])
            for piece in (p.head, *p.forms, p.tail):
                ids.extend(piece)
        name = self.template.encode()
        if sys.byteorder == "big":
            meta.byteswap()
            ids.byteswap()
        header = _HEADER.pack(_MAGIC, typecode.encode(), len(name), len(meta))
        return header + name + meta.tobytes() + ids.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> EncodedExample:
        magic, typecode, name_len, meta_len = _HEADER.unpack_from(data)
        if magic != _MAGIC:
            raise IndexerError("cached token ids are not in a format this version reads")
        at = _HEADER.size
        template = data[at : at + name_len].decode()
        at += name_len
        meta = array("I", data[at : at + 4 * meta_len])
        ids = array(typecode.decode(), data[at + 4 * meta_len :])
        if sys.byteorder == "big":
            meta.byteswap()
            ids.byteswap()
        m = iter(meta)
        i = 0

        def take(n: int) -> array:
            nonlocal i
            i += n
            return ids[i - n : i]

        n_segments, n_parts = next(m), next(m)
        parts = []
        for _ in range(n_parts):
            kind, rank = _PART_KINDS[next(m)], next(m)
            head_len, n_forms = next(m), next(m)
            form_lens = [next(m) for _ in range(n_forms)]
            head = take(head_len)
            forms = tuple(take(n) for n in form_lens)
            tail = take(next(m))
            parts.append(EncodedPart(kind, None if rank == 0 else rank - 1, head, forms, tail))
        if i != len(ids):
            raise IndexerError("cached token ids are damaged", "export again to re-encode them")
        return cls(template, n_segments, tuple(parts))


_MAGIC = b"CIX1"
_HEADER = struct.Struct("<4scHI")
_PART_KINDS = ("marker", "target", *SEGMENT_KINDS)


def encode_example(
    example: Example, tokenizer: Tokenizer, template: str = "native"
) -> EncodedExample:
    """Tokenize each piece of `example` once: markers, every segment form, the target."""
    tpl = get_template(template)
    return encode_parts(tpl.parts(example), len(example.segments), tokenizer, tpl)


def encode_parts(
    parts: Sequence[Part],
    n_segments: int,
    tokenizer: Tokenizer,
    tpl: Template,
    encode: Callable[[str], list[int]] | None = None,
) -> EncodedExample:
    """Tokenize `parts` (of `tpl`, over `n_segments` ranked segments), each body with
    `encode` (the tokenizer's own by default; a commit unit's remembers its texts)."""
    encode = encode or tokenizer.encode
    for token in tpl.tokens:  # fail on a missing token whatever the example holds
        _marker_ids(tokenizer, token, tpl)
    typecode = _typecode(tokenizer.vocab_size)

    def ids(values: Iterable[int]) -> array:
        a = array(typecode, values)
        assert not a or max(a) < tokenizer.vocab_size, "token id outside the vocabulary"
        return a

    def markers(texts: tuple[str, ...]) -> array:
        return ids(i for text in texts for i in _marker_ids(tokenizer, text, tpl))

    encoded = tuple(
        EncodedPart(
            p.kind,
            p.rank,
            markers(p.head),
            tuple(ids(encode(form)) for form in p.forms),
            markers(p.tail),
        )
        for p in parts
    )
    return EncodedExample(tpl.name, n_segments, encoded)


TARGET_TOO_LONG = "target_too_long"


@dataclass(frozen=True)
class SkipReason:
    """Why an example makes no record: `reason`, and the tokens it would need at least."""

    reason: str
    n_tokens: int
    max_tokens: int


@dataclass(frozen=True)
class Fitted:
    """One record's ids. `choices[i]` says what became of segment i: 0 whole,
    k > 0 its k-th variant, None dropped (an empty segment counts as whole)."""

    input_ids: list[int]
    labels: list[int]
    attention_mask: list[int]
    choices: tuple[int | None, ...]

    @property
    def n_tokens(self) -> int:
        return len(self.input_ids)

    @property
    def kept(self) -> tuple[int, ...]:
        return tuple(i for i, c in enumerate(self.choices) if c == 0)

    @property
    def shortened(self) -> tuple[int, ...]:
        return tuple(i for i, c in enumerate(self.choices) if c)

    @property
    def dropped(self) -> tuple[int, ...]:
        return tuple(i for i, c in enumerate(self.choices) if c is None)

    @property
    def fits_whole(self) -> bool:
        """The whole context fits the budget: nothing shortened or dropped."""
        return all(c == 0 for c in self.choices)


IGNORE = -100  # the label of a position the loss skips


def fit(
    encoded: EncodedExample,
    max_tokens: int = 2048,
    leave_out: tuple[str, ...] = (),
    shortest: tuple[str, ...] = (),
) -> Fitted | SkipReason:
    """Fill `max_tokens` by priority, never cutting a piece. Segments whose kind
    starts with one of `leave_out` are left out (an ablation: `export --context`);
    those of a kind in `shortest` take only their shortest form (`--message subject`).

    The target and the template's fixed markers always go in whole; if they alone are
    too long, the example is skipped. Then the path, message, old code and imports, in
    that order, each take the longest of their forms (text, then variants) that fits
    what is left, or are dropped. Definitions from other files go breadth first: each,
    in priority order, takes its shortest form (the header line) if it fits, then
    each, in priority order, grows to its longest form that fits. So a lower-priority
    segment is shortened or dropped before it costs a higher one anything, except that
    every definition's header goes in before any definition's whole text.
    """
    if max_tokens < 1:
        raise IndexerError(f"token budget must be positive, not {max_tokens}")
    fixed = sum(
        len(p.head) + len(p.tail) + (len(p.forms[0]) if p.forms else 0)
        for p in encoded.parts
        if p.rank is None
    )
    if fixed > max_tokens:
        return SkipReason(TARGET_TOO_LONG, fixed, max_tokens)
    left = max_tokens - fixed
    choices: list[int | None] = [0] * encoded.n_segments
    ranked = sorted((p for p in encoded.parts if p.rank is not None), key=lambda p: p.rank)
    definitions = []
    for p in ranked:
        frame = len(p.head) + len(p.tail)
        if p.kind.startswith(leave_out):
            choices[p.rank] = None
            continue
        if p.kind in shortest:
            sizes = range(len(p.forms) - 1, len(p.forms))
        elif p.kind.startswith(DEFINITION_PREFIXES):  # its header now, more below
            sizes = range(len(p.forms) - 1, len(p.forms))
            definitions.append(p)
        else:
            sizes = range(len(p.forms))
        choice = choices[p.rank] = next((k for k in sizes if frame + len(p.forms[k]) <= left), None)
        if choice is not None:
            left -= frame + len(p.forms[choice])
    for p in definitions:
        least = choices[p.rank]
        if least is None:
            continue
        have = len(p.forms[least])
        grown = next((k for k in range(least) if len(p.forms[k]) - have <= left), least)
        choices[p.rank] = grown
        left -= len(p.forms[grown]) - have
    input_ids: list[int] = []
    labels: list[int] = []
    for p in encoded.parts:
        if p.rank is not None and choices[p.rank] is None:
            continue
        body = p.forms[choices[p.rank] if p.rank is not None else 0] if p.forms else ()
        input_ids += [*p.head, *body, *p.tail]
        if p.kind == "target":  # the marker before it is context; the end token is learnt
            labels += [IGNORE] * len(p.head) + [*body, *p.tail]
        else:
            labels += [IGNORE] * (len(p.head) + len(body) + len(p.tail))
    return Fitted(input_ids, labels, [1] * len(input_ids), tuple(choices))


def _kept(example: Example, fitted: Fitted, template: str) -> list[tuple[Part, str]]:
    return kept_parts(get_template(template).parts(example), fitted)


def kept_parts(parts: Iterable[Part], fitted: Fitted) -> list[tuple[Part, str]]:
    """Each part that went into `fitted`, with the form of its body it took."""
    return [
        (p, p.forms[choice] if p.forms else "")
        for p in parts
        for choice in [fitted.choices[p.rank] if p.rank is not None else 0]
        if choice is not None
    ]


def prompt_and_completion(example: Example, fitted: Fitted, template: str) -> tuple[str, str]:
    """The fitted example as text, without its end token: the context up to the
    target's marker (`prompt`) and the target (`completion`), for trainers that
    tokenize text themselves (TRL's SFTTrainer adds the end token)."""
    return split_text(_kept(example, fitted, template))


def split_text(kept: list[tuple[Part, str]]) -> tuple[str, str]:
    """The text of `kept` parts as the prompt, up to and including the first target's
    marker, and the completion after it, without the last target's end token (a
    commit unit's completion holds its later items' markers too)."""
    targets = [n for n, (p, _body) in enumerate(kept) if p.kind == "target"]
    first, last = targets[0], targets[-1]
    prompt = [piece for p, body in kept[:first] for piece in (*p.head, body, *p.tail)]
    completion: list[str] = []
    for n, (p, body) in enumerate(kept[first:], first):
        head = p.head if n != first else ()
        tail = p.tail if n != last else p.tail[:-1]  # the end token
        completion += [*head, body, *tail]
    return "".join([*prompt, *kept[first][0].head]), "".join(completion)


def render_text(example: Example, fitted: Fitted, template: str = "native", eos: str = "") -> str:
    """The text `fitted.input_ids` decode to, built from the example's own strings;
    the plain template's end-of-text token as `eos` (the tokenizer's decoding of it)."""
    pieces = [
        piece for p, body in _kept(example, fitted, template) for piece in (*p.head, body, *p.tail)
    ]
    return "".join(eos if piece == EOS else piece for piece in pieces)
