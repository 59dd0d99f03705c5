"""Tokenizers, templates, and fitting an example into a token budget.

Three kinds of tokenizer, all lossless (`decode(encode(text)) == text`, checked when
one is loaded): `native`, a SentencePiece model trained on the repo's own Rust with
our special tokens; a user's SentencePiece `.model`; a user's Hugging Face
`tokenizer.json`. A tokenizer is kept as the bytes of its model file and named by
their sha256, so the store can hold it and cache token ids per tokenizer.

A template says how an example's segments and target become text with marker
tokens: `native` uses our `<|...|>` tokens, `starcoder` the model's own commit tokens
(no new tokens, so no embedding resize). `encode_example` tokenizes every piece once
(each segment, each of its shorter variants, the target, the markers); `fit` then
fills a token budget by priority without tokenizing again, and `render_text` gives
the exact text the fitted ids decode to.

What it does not do: build examples (`examples.py`), store or export them, or make
tensors. sentencepiece and tokenizers are imported only where a tokenizer is made.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from indexer.errors import IndexerError
from indexer.examples import (
    CONTEXT_PREFIX,
    IMPORTS,
    ITEM_KINDS,
    MESSAGE,
    OLD,
    PATH,
    SEGMENT_KINDS,
    Example,
)

# The native special tokens. The pad token comes first so it gets a small id.
PAD, END, NEW = "<|pad|>", "<|end|>", "<|new|>"
SEGMENT_TOKENS = {kind: f"<|{kind}|>" for kind in SEGMENT_KINDS}
ITEM_TOKENS = {kind: f"<|item_{kind}|>" for kind in ITEM_KINDS}
CHANGE_TOKENS = {change: f"<|{change}|>" for change in ("added", "modified")}
SPECIAL_TOKENS = (
    PAD,
    END,
    NEW,
    *SEGMENT_TOKENS.values(),
    *ITEM_TOKENS.values(),
    *CHANGE_TOKENS.values(),
)

# StarCoder(Base)'s own tokens. Its commit format, as OctoPack prepared CommitPack for
# it (bigcode-project/octopack, dataset/other/commits_to_jsonl.py, `prepare_bigcode`):
#   <filename>{name}<commit_before>{old}<commit_msg>{subject}<commit_after>{new}<|endoftext|>
# and bigcode-evaluation-harness (tasks/humanevalpack.py, prompt "starcodercommit")
# prompts it as `<commit_before>{old}<commit_msg>{msg}<commit_after>`. StarCoder2's
# tokenizer has `<file_sep>` but none of the commit tokens, so this template is for
# StarCoder/StarCoderBase-family tokenizers.
FILENAME, COMMIT_BEFORE, COMMIT_MSG, COMMIT_AFTER, ENDOFTEXT = (
    "<filename>",
    "<commit_before>",
    "<commit_msg>",
    "<commit_after>",
    "<|endoftext|>",
)
STARCODER_TOKENS = (ENDOFTEXT, FILENAME, COMMIT_BEFORE, COMMIT_MSG, COMMIT_AFTER)

META = "\u2581"  # SentencePiece's whitespace symbol: a literal one would decode as " "
LOSSLESS_PROBES = ('fn f() {\r\n\tlet s = "é中🦀";  \u2581\n}\n', " x", "e\u0301", "")


class Tokenizer:
    """A lossless tokenizer and the bytes of its model file."""

    kind: str  # "sentencepiece" or "hf"
    vocab_size: int

    def __init__(self, data: bytes, name: str) -> None:
        self.name = name
        self.sha256 = hashlib.sha256(data).hexdigest()
        self._data = data
        self._markers: dict[str, tuple[int, ...]] = {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.sha256[:12]}>"

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`, with no BOS, EOS or dummy prefix added."""
        raise NotImplementedError

    def decode(self, ids: Sequence[int]) -> str:
        raise NotImplementedError

    def token_id(self, token: str) -> int | None:
        """The id of `token` if the vocabulary has it as one token that decodes to it."""
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        return self._data

    @staticmethod
    def from_bytes(kind: str, data: bytes, name: str = "tokenizer") -> Tokenizer:
        """A tokenizer from its model file's bytes; checks that it is lossless."""
        makers: dict[str, Callable[[bytes, str], Tokenizer]] = {
            "sentencepiece": SentencePieceTokenizer,
            "hf": HFTokenizer,
        }
        if kind not in makers:
            raise IndexerError(f"unknown tokenizer kind {kind!r}", "use sentencepiece or hf")
        tokenizer = makers[kind](data, name)
        _check_lossless(tokenizer)
        return tokenizer


class SentencePieceTokenizer(Tokenizer):
    kind = "sentencepiece"

    def __init__(self, data: bytes, name: str) -> None:
        import sentencepiece

        super().__init__(data, name)
        try:
            self._sp = sentencepiece.SentencePieceProcessor(model_proto=data)
        except Exception:
            raise IndexerError(
                f"{name} is not a SentencePiece model",
                "give the .model file that SentencePiece training wrote",
            ) from None
        self.vocab_size = self._sp.get_piece_size()
        meta = [self.token_id(f"<0x{b:02X}>") for b in META.encode()]
        self._meta_ids = None if None in meta else meta

    def encode(self, text: str) -> list[int]:
        # Unlike HFTokenizer, user symbols (our markers) written in code are read as
        # the marker: SentencePiece has no switch for it. Decoding is the same.
        if META not in text or self._meta_ids is None:
            return self._sp.encode(text)
        # SentencePiece reads a literal "▁" as a space; spell it with byte pieces instead.
        ids: list[int] = []
        for i, part in enumerate(text.split(META)):
            if i:
                ids.extend(self._meta_ids)
            ids.extend(self._sp.encode(part))
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        return self._sp.decode(list(ids))

    def token_id(self, token: str) -> int | None:
        i = self._sp.piece_to_id(token)
        # A control piece decodes to "", so it cannot stand for text.
        if self._sp.is_unknown(i) or self._sp.is_control(i) or self._sp.id_to_piece(i) != token:
            return None
        return i


class HFTokenizer(Tokenizer):
    kind = "hf"

    def __init__(self, data: bytes, name: str) -> None:
        import tokenizers

        super().__init__(data, name)
        try:
            self._tok = tokenizers.Tokenizer.from_str(data.decode("utf-8"))
        except Exception as e:
            raise IndexerError(
                f"{name} is not a Hugging Face tokenizer.json ({e})",
                "give the tokenizer.json from the model's repository",
            ) from None
        # A tokenizer.json may carry padding and truncation settings; ids must not.
        self._tok.no_padding()
        self._tok.no_truncation()
        # Special tokens come only from templates (by id), never from code that
        # happens to contain their text.
        self._tok.encode_special_tokens = True
        self.vocab_size = max(self._tok.get_vocab(with_added_tokens=True).values()) + 1

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Sequence[int]) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=False)

    def token_id(self, token: str) -> int | None:
        i = self._tok.token_to_id(token)
        return i if i is not None and self.decode([i]) == token else None


def _check_lossless(tokenizer: Tokenizer) -> None:
    """Fail early on a tokenizer that normalizes text or adds a prefix space: examples
    are encoded piece by piece, so pieces must decode back to themselves, joined."""
    each = all(tokenizer.decode(tokenizer.encode(t)) == t for t in LOSSLESS_PROBES)
    joined = [i for t in LOSSLESS_PROBES for i in tokenizer.encode(t)]
    if each and tokenizer.decode(joined) == "".join(LOSSLESS_PROBES):
        return
    raise IndexerError(
        f"tokenizer {tokenizer.name} does not give back the text it encodes",
        "use a lossless tokenizer: byte-level BPE, or SentencePiece with byte_fallback "
        "and no add_dummy_prefix (or the native tokenizer)",
    )


def load_tokenizer(path: str | Path, name: str | None = None) -> Tokenizer:
    """A SentencePiece `.model` or a Hugging Face `tokenizer.json` (or a model
    directory holding one)."""
    path = Path(path)
    if path.is_dir():
        found = [p for p in (path / "tokenizer.json", path / "tokenizer.model") if p.is_file()]
        if not found:
            raise IndexerError(
                f"no tokenizer.json or tokenizer.model in {path}", "give the tokenizer file"
            )
        path = found[0]
    kinds = {".model": "sentencepiece", ".json": "hf"}
    if path.suffix not in kinds:
        raise IndexerError(
            f"cannot tell what tokenizer {path} is",
            "give a SentencePiece .model or a Hugging Face tokenizer.json",
        )
    try:
        data = path.read_bytes()
    except OSError as e:
        raise IndexerError(
            f"cannot read tokenizer {path}: {e.strerror}", "check the path"
        ) from None
    return Tokenizer.from_bytes(kinds[path.suffix], data, name or path.name)


CHUNK_LINES = 64  # SentencePiece trains on "sentences": chunks of whole lines
MAX_SENTENCE_BYTES = 1 << 15  # longer sentences are skipped by the trainer
MAX_TRAINING_CHARS = 64 << 20  # SentencePiece holds its input in memory


def _training_chunks(texts: Iterable[str], max_chars: int) -> Iterator[str]:
    """Files cut into chunks of whole lines (newlines kept), at blank lines when it
    can; a line too long for one sentence is cut, which only matters for training."""
    longest = MAX_SENTENCE_BYTES // 4  # in chars, at up to 4 UTF-8 bytes each
    for text in texts:
        chunk: list[str] = []
        size = 0
        for line in text.splitlines(keepends=True):
            while len(line) > longest:
                yield line[:longest]
                max_chars -= longest
                line = line[longest:]
            if chunk and size + len(line) > longest:
                yield "".join(chunk)
                chunk, size = [], 0
            chunk.append(line)
            size += len(line)
            max_chars -= len(line)
            if len(chunk) >= CHUNK_LINES or (not line.strip() and len(chunk) >= CHUNK_LINES // 4):
                yield "".join(chunk)
                chunk, size = [], 0
        if chunk:
            yield "".join(chunk)
        if max_chars <= 0:
            return


def train_native(
    texts: Iterable[str],
    vocab_size: int = 8000,
    *,
    extra_symbols: Sequence[str] = (),
    name: str = "native",
    max_chars: int = MAX_TRAINING_CHARS,
) -> Tokenizer:
    """Train the native SentencePiece tokenizer on Rust files, in memory.

    Lossless and deterministic: the same texts give the same model bytes. On a corpus
    too small for `vocab_size` the vocabulary shrinks to what the trainer can fill.
    `extra_symbols` are added as single tokens next to SPECIAL_TOKENS.
    """
    import sentencepiece

    chunks = list(_training_chunks(texts, max_chars))
    if not chunks:
        raise IndexerError("no Rust code to train the native tokenizer on", "index commits first")
    for _attempt in range(3):
        out = io.BytesIO()
        try:
            sentencepiece.SentencePieceTrainer.train(
                sentence_iterator=iter(chunks),
                model_writer=out,
                # BPE: deterministic (no sampling), 10x faster to train than unigram on
                # real Rust, and packs code slightly tighter (4.3 vs 4.15 chars a token).
                model_type="bpe",
                vocab_size=vocab_size,
                # Lossless: text goes in as is, whitespace runs (indentation, "\n",
                # "\t", "\r\n") are pieces like any other, and any character outside
                # the vocabulary falls back to its UTF-8 bytes.
                normalization_rule_name="identity",
                remove_extra_whitespaces=False,
                add_dummy_prefix=False,
                split_by_whitespace=False,
                allow_whitespace_only_pieces=True,
                treat_whitespace_as_suffix=False,
                byte_fallback=True,
                character_coverage=0.9999,  # rare characters go to bytes, not the vocab
                split_digits=True,
                split_by_number=True,
                split_by_unicode_script=True,
                max_sentencepiece_length=16,
                max_sentence_length=MAX_SENTENCE_BYTES,
                # Our markers are user symbols: matched in text and decoded to their
                # text (a control symbol would decode to ""). No BOS/EOS/PAD of
                # SentencePiece's own: <|end|> and <|pad|> serve.
                user_defined_symbols=[*SPECIAL_TOKENS, *extra_symbols],
                unk_id=0,
                bos_id=-1,
                eos_id=-1,
                pad_id=-1,
                # Deterministic: all input, in order, no sampling; one thread, since the
                # thread count is written into the model.
                input_sentence_size=0,
                shuffle_input_sentence=False,
                num_threads=1,
                minloglevel=2,
            )
        except RuntimeError as e:
            message = str(e)
            if high := re.search(r"Vocabulary size too high .*<= (\d+)", message):
                vocab_size = int(high.group(1))
                continue
            if low := re.search(r"smaller than required_chars\. \d+ vs (\d+)", message):
                raise IndexerError(
                    f"vocabulary size {vocab_size} is too small for this code",
                    f"use at least {low.group(1)}",
                ) from None
            raise IndexerError(f"training the native tokenizer failed: {message}") from None
        return Tokenizer.from_bytes("sentencepiece", out.getvalue(), name)
    raise IndexerError("training the native tokenizer failed: no vocabulary size fits")


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
    tokens: tuple[str, ...]  # special tokens it uses: each must be one token
    pad_token: str  # what a collator pads with (records themselves have no padding)
    parts: Callable[[Example], list[Part]]
    hint: str  # what to do when a tokenizer lacks one of `tokens`


def _segments_by_group(example: Example, groups: Sequence[str]) -> dict[str, list[Part]]:
    """Each non-empty segment as a Part (head/tail to be filled), under its group:
    its kind, or "ctx" for definitions from other files (kept in priority order)."""
    out: dict[str, list[Part]] = {g: [] for g in groups}
    for rank, seg in enumerate(example.segments):
        if seg.kind not in SEGMENT_KINDS:
            raise IndexerError(f"unknown segment kind {seg.kind!r}")
        if seg.text:
            group = "ctx" if seg.kind.startswith(CONTEXT_PREFIX) else seg.kind
            out[group].append(Part(seg.kind, rank, forms=(seg.text, *seg.variants)))
    return out


def _native_parts(example: Example) -> list[Part]:
    """`<|path|>p<|imports|>u<|ctx_struct|>d…<|old|>o<|msg|>m<|item_fn|><|modified|>
    <|new|>TARGET<|end|>`: context first, the old code and message nearest the new
    code (the order of StarCoder's commits), the target last."""
    if example.kind not in ITEM_TOKENS or example.change not in CHANGE_TOKENS:
        raise IndexerError(f"unknown item kind or change: {example.kind!r}, {example.change!r}")
    groups = _segments_by_group(example, (PATH, IMPORTS, "ctx", OLD, MESSAGE))
    parts = [
        Part(p.kind, p.rank, (SEGMENT_TOKENS[p.kind],), p.forms)
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


TEMPLATES = {
    "native": Template(
        "native",
        SPECIAL_TOKENS,
        PAD,
        _native_parts,
        "use the native tokenizer, or the template of the model whose tokenizer this is",
    ),
    "starcoder": Template(
        "starcoder",
        STARCODER_TOKENS,
        ENDOFTEXT,
        _starcoder_parts,
        "the starcoder template needs the model's own tokenizer (StarCoder's "
        "tokenizer.json); use the native template with other tokenizers",
    ),
}


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
            i = tokenizer.token_id(text)
            if i is None:
                raise IndexerError(
                    f"tokenizer {tokenizer.name} has no token {text}, which the "
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
    for token in tpl.tokens:  # fail on a missing token whatever the example holds
        _marker_ids(tokenizer, token, tpl)
    typecode = _typecode(tokenizer.vocab_size)

    def ids(values: Iterable[int]) -> array:
        a = array(typecode, values)
        assert not a or max(a) < tokenizer.vocab_size, "token id outside the vocabulary"
        return a

    def markers(texts: tuple[str, ...]) -> array:
        return ids(i for text in texts for i in _marker_ids(tokenizer, text, tpl))

    parts = tuple(
        EncodedPart(
            p.kind,
            p.rank,
            markers(p.head),
            tuple(ids(tokenizer.encode(form)) for form in p.forms),
            markers(p.tail),
        )
        for p in tpl.parts(example)
    )
    return EncodedExample(tpl.name, len(example.segments), parts)


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


def fit(encoded: EncodedExample, max_tokens: int = 2048) -> Fitted | SkipReason:
    """Fill `max_tokens` by priority, never cutting a piece.

    The target and the template's fixed markers always go in whole; if they alone are
    too long, the example is skipped. Then each segment in priority order takes the
    longest of its forms (text, then variants) that fits what is left, or is dropped:
    so a lower-priority segment is shortened or dropped before it costs a higher one
    anything, and a small one may still fill a gap.
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
    for p in sorted((p for p in encoded.parts if p.rank is not None), key=lambda p: p.rank):
        frame = len(p.head) + len(p.tail)
        fitting = (k for k, form in enumerate(p.forms) if frame + len(form) <= left)
        choice = choices[p.rank] = next(fitting, None)
        if choice is not None:
            left -= frame + len(p.forms[choice])
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


def render_text(example: Example, fitted: Fitted, template: str = "native") -> str:
    """The text `fitted.input_ids` decode to, built from the example's own strings."""
    out: list[str] = []
    for p in get_template(template).parts(example):
        choice = fitted.choices[p.rank] if p.rank is not None else 0
        if choice is None:
            continue
        out += [*p.head, p.forms[choice] if p.forms else "", *p.tail]
    return "".join(out)
