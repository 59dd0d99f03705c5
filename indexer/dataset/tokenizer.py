"""Tokenizers: load, train and keep the model that turns text into token ids.

Three kinds of tokenizer, all lossless (`decode(encode(text)) == text`, checked when
one is loaded): `native`, a SentencePiece model trained on the repo's own Rust with
our special tokens; a user's SentencePiece `.model`; a user's Hugging Face
`tokenizer.json`. A model's dummy prefix (the space Llama's tokenizer adds before a
text) is turned off where it is loaded: texts are encoded piece by piece. A
tokenizer is kept as the bytes of its model file and named by their sha256, so the
store can hold it and cache token ids per tokenizer.

Templates and fitting an example into a budget are `budget.py`'s. What it does not
do: build examples (`examples.py`), store or export them, or make tensors.
sentencepiece and tokenizers are imported only where a tokenizer is made.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from indexer.errors import IndexerError
from indexer.shapes import CONTEXT_KINDS, IMPORTS, ITEM_KINDS, MESSAGE, OLD, PATH

# The native special tokens. The pad token comes first so it gets a small id.
PAD, END, NEW = "<|pad|>", "<|end|>", "<|new|>"
# An edit of the same commit is marked as its kind's context then <|new|>
# (`budget._native_head`): no token of its own, so tokenizers trained before edits
# were shown still fit.
SEGMENT_TOKENS = {kind: f"<|{kind}|>" for kind in (PATH, MESSAGE, OLD, IMPORTS, *CONTEXT_KINDS)}
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
# Fill-in-the-middle (`export --target fim`): StarCoder's own tokens, and ours. The
# native ones are trained into every native tokenizer, but only a FIM export needs
# them, so a tokenizer trained before them still serves every other export.
STARCODER_FIM_TOKENS = ("<fim_prefix>", "<fim_suffix>", "<fim_middle>")
FIM_TOKENS = ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")
# Search/replace blocks' markers (`edits.NATIVE_MARKERS`), used where a native
# tokenizer has them; one trained before them writes aider's text markers.
BLOCK_TOKENS = ("<|search|>", "<|divide|>", "<|replace|>")
NATIVE_SYMBOLS = (*SPECIAL_TOKENS, *FIM_TOKENS, *BLOCK_TOKENS)  # what `train_native` adds

# The end-of-text tokens of the model families the plain template suits, in the order
# they are looked for: StarCoder, Qwen, GPT-2 and Phi; Llama 3; Llama 2, Mistral and
# CodeLlama; DeepSeek-Coder; Gemma; and our own (a native tokenizer). A SentencePiece
# model's own EOS piece comes first.
END_OF_TEXT_TOKENS = (
    ENDOFTEXT,
    "<|end_of_text|>",
    "</s>",
    "<\uff5cend\u2581of\u2581sentence\uff5c>",
    "<eos>",
    END,
)

# SentencePiece's whitespace symbol (and Llama's tokenizer.json's): a literal one in
# the text would decode as " ".
META = "\u2581"
LOSSLESS_PROBES = ('fn f() -> Self {\r\n\tlet s = "é中🦀";  \u2581\n}\n', " x", "e\u0301", "")


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
        if META not in text or self._meta_ids is None:
            return self._encode(text)
        # A SentencePiece-style model reads a literal "▁" as a space: spell it with
        # byte pieces instead.
        ids: list[int] = []
        for i, part in enumerate(text.split(META)):
            if i:
                ids.extend(self._meta_ids)
            ids.extend(self._encode(part))
        return ids

    def _encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def _find_meta_ids(self) -> None:
        """Byte pieces for META, where the model would read it as a space."""
        self._meta_ids = None
        if self.decode(self._encode(META)) != META:
            meta = [self._piece_id(f"<0x{b:02X}>") for b in META.encode()]
            if None not in meta and self.decode(meta) == META:
                self._meta_ids = meta

    def _piece_id(self, piece: str) -> int | None:
        raise NotImplementedError

    def decode(self, ids: Sequence[int]) -> str:
        raise NotImplementedError

    def token_id(self, token: str) -> int | None:
        """The id of `token` if the vocabulary has it as one token that decodes to it."""
        raise NotImplementedError

    @property
    def eos_id(self) -> int | None:
        """The model's end-of-text token: the first of END_OF_TEXT_TOKENS it has."""
        return next((i for t in END_OF_TEXT_TOKENS if (i := self.token_id(t)) is not None), None)

    def piece(self, i: int) -> str:
        """The vocabulary's string for id `i` (a control piece's name too)."""
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        return self._data

    def to_json(self) -> str:
        """The tokenizer as a Hugging Face tokenizer.json that encodes text to the ids
        `encode` gives (but for a literal META) and decodes them to the text, for
        `tokenizers` and transformers' `AutoTokenizer`."""
        raise NotImplementedError

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
        if self._sp.encode("x", out_type=str)[0].startswith(META):
            self._sp = _without_dummy_prefix(data)
        self.vocab_size = self._sp.get_piece_size()
        self._find_meta_ids()

    def _encode(self, text: str) -> list[int]:
        # Unlike HFTokenizer, user symbols (our markers) written in code are read as
        # the marker: SentencePiece has no switch for it. Decoding is the same.
        return self._sp.encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        return self._sp.decode(list(ids))

    def token_id(self, token: str) -> int | None:
        i = self._sp.piece_to_id(token)
        # A control piece decodes to "", so it cannot stand for text.
        if self._sp.is_unknown(i) or self._sp.is_control(i) or self._sp.id_to_piece(i) != token:
            return None
        return i

    def _piece_id(self, piece: str) -> int | None:
        i = self._sp.piece_to_id(piece)
        return None if self._sp.is_unknown(i) else i

    def piece(self, i: int) -> str:
        return self._sp.id_to_piece(i)

    @property
    def eos_id(self) -> int | None:
        # Llama's </s> is a control piece: it decodes to "", as the model's own does.
        return self._sp.eos_id() if self._sp.eos_id() >= 0 else super().eos_id

    def to_json(self) -> str:
        return _sentencepiece_json(self._sp)


def _sentencepiece_json(sp: Any) -> str:
    """A SentencePiece model as a tokenizer.json, as we load it (identity
    normalization, no dummy prefix): its pieces and scores as a BPE model (merges
    ranked by the merged piece's score, the order SentencePiece applies them in) or a
    Unigram one, spaces as META, byte fallback, user symbols matched whole in the
    text, control pieces as special tokens."""
    from sentencepiece import sentencepiece_model_pb2 as pb
    from tokenizers import AddedToken, decoders, models, normalizers
    from tokenizers import Tokenizer as HF

    proto = pb.ModelProto.FromString(sp.serialized_model_proto())
    kind = pb.ModelProto.SentencePiece.Type
    pieces = [(p.piece, p.score, p.type) for p in proto.pieces]
    unk = pieces[sp.unk_id()][0]
    if proto.trainer_spec.model_type == pb.TrainerSpec.BPE:
        normal = {p: (-score, i) for i, (p, score, t) in enumerate(pieces) if t == kind.NORMAL}
        ranked = sorted(
            (rank, piece[:k], piece[k:])
            for piece, rank in normal.items()
            for k in range(1, len(piece))
            if piece[:k] in normal and piece[k:] in normal
        )
        vocab = {p: i for i, (p, _score, _t) in enumerate(pieces)}
        merges = [(left, right) for _rank, left, right in ranked]
        model = models.BPE(vocab, merges, unk_token=unk, fuse_unk=True, byte_fallback=True)
    else:
        scores = [(p, score) for p, score, _t in pieces]
        model = models.Unigram(scores, unk_id=sp.unk_id(), byte_fallback=True)
    hf = HF(model)
    hf.normalizer = normalizers.Replace(" ", META)
    hf.decoder = decoders.Sequence(
        [decoders.Replace(META, " "), decoders.ByteFallback(), decoders.Fuse()]
    )
    hf.add_tokens(
        [AddedToken(p, normalized=False) for p, _s, t in pieces if t == kind.USER_DEFINED]
    )
    specials = (kind.UNKNOWN, kind.CONTROL)
    hf.add_special_tokens([AddedToken(p, normalized=False) for p, _s, t in pieces if t in specials])
    return hf.to_str()


def _without_dummy_prefix(data: bytes) -> Any:
    """The model with its dummy prefix (Llama's `add_dummy_prefix`, a space before
    each encoded text) turned off, for encoding and decoding alike: a text's ids are
    then those it has in the middle of a longer one, as the model sees it in training,
    and they decode to the text itself. The model file is kept as it is."""
    import sentencepiece
    from sentencepiece import sentencepiece_model_pb2

    model = sentencepiece_model_pb2.ModelProto()
    model.ParseFromString(data)
    model.normalizer_spec.add_dummy_prefix = False
    if model.HasField("denormalizer_spec"):
        model.denormalizer_spec.add_dummy_prefix = False
    return sentencepiece.SentencePieceProcessor(model_proto=model.SerializeToString())


class HFTokenizer(Tokenizer):
    kind = "hf"

    def __init__(self, data: bytes, name: str) -> None:
        import tokenizers

        super().__init__(data, name)
        try:
            spec = json.loads(data.decode("utf-8"))
            for key in ("normalizer", "pre_tokenizer", "decoder"):
                spec[key] = _text_as_is(spec.get(key))
            self._tok = tokenizers.Tokenizer.from_str(json.dumps(spec))
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
        self._find_meta_ids()

    def _encode(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Sequence[int]) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=False)

    def token_id(self, token: str) -> int | None:
        i = self._tok.token_to_id(token)
        return i if i is not None and self.decode([i]) == token else None

    def _piece_id(self, piece: str) -> int | None:
        return self._tok.token_to_id(piece)

    def piece(self, i: int) -> str:
        return self._tok.id_to_token(i)

    def to_json(self) -> str:
        # as loaded: without a dummy prefix or a Unicode normalization, as ids were made
        return self._tok.to_str()


# Unicode normalizations a tokenizer.json may apply first (Qwen's applies NFC): left
# out, so that text is encoded as it is (byte-level BPE spells any text).
UNICODE_FORMS = ("NFC", "NFD", "NFKC", "NFKD")


def _text_as_is(step: Any) -> Any:
    """A tokenizer.json's normalizer, pre-tokenizer or decoder without the space it
    adds before a text and strips after it (Llama's `Prepend("\u2581")` and
    `Strip(start=1)`, a Metaspace's `prepend_scheme`, a ByteLevel's
    `add_prefix_space`: the HF form of SentencePiece's dummy prefix), and without
    a Unicode normalization (UNICODE_FORMS)."""
    if not isinstance(step, dict):
        return step
    kind = step.get("type")
    if kind == "Prepend" or (kind == "Strip" and step.get("start")) or kind in UNICODE_FORMS:
        return None
    if kind == "Metaspace":
        step = {**step, "prepend_scheme": "never"}
        step.pop("add_prefix_space", None)  # its name before tokenizers 0.19
    elif kind == "ByteLevel" and step.get("add_prefix_space"):
        step = {**step, "add_prefix_space": False}
    for key in ("normalizers", "pretokenizers", "decoders"):
        if isinstance(step.get(key), list):
            kept = [s for s in map(_text_as_is, step[key]) if s is not None]
            step = {**step, key: kept}
    return step


def model_files(
    tokenizer: Tokenizer, eos: str, pad: str, max_tokens: int
) -> dict[str, str | bytes]:
    """The tokenizer's files in a model folder's layout, what an export ships (so the
    folder loads with `AutoTokenizer.from_pretrained`): `tokenizer.json` (as loaded
    here, so it encodes text to the ids written), the SentencePiece `tokenizer.model`
    as it was given, and a `tokenizer_config.json` naming the end and pad tokens."""
    files: dict[str, str | bytes] = {"tokenizer.json": tokenizer.to_json()}
    if tokenizer.kind == "sentencepiece":
        files["tokenizer.model"] = tokenizer.to_bytes()
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": None,
        "eos_token": eos,
        "pad_token": pad,
        "add_bos_token": False,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": max_tokens,
    }
    files["tokenizer_config.json"] = json.dumps(config, indent=2, sort_keys=True) + "\n"
    return files


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
        "and the identity normalization (or the native tokenizer)",
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


# How the native tokenizer is trained, but for its vocabulary size and symbols.
TRAINER_OPTIONS: dict[str, Any] = dict(
    # BPE: deterministic (no sampling), 10x faster to train than unigram on
    # real Rust, and packs code slightly tighter (4.3 vs 4.15 chars a token).
    model_type="bpe",
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
    # No BOS/EOS/PAD of SentencePiece's own: <|end|> and <|pad|> serve.
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


# The native vocabulary when none is asked for; a history whose code needs more
# characters than that (a trainer must have each kept character as a piece) gets
# what it needs, rounded up to a multiple of 64 (for the embedding's shape).
DEFAULT_VOCAB_SIZE = 8000
VOCAB_MULTIPLE = 64


def train_native(
    texts: Iterable[str],
    vocab_size: int | None = None,
    *,
    extra_symbols: Sequence[str] = (),
    name: str = "native",
    max_chars: int = MAX_TRAINING_CHARS,
) -> Tokenizer:
    """Train the native SentencePiece tokenizer on Rust files, in memory.

    Lossless and deterministic: the same texts give the same model bytes. On a corpus
    too small for `vocab_size` the vocabulary shrinks to what the trainer can fill;
    without a `vocab_size` (DEFAULT_VOCAB_SIZE) it grows to what the code's characters
    need. `extra_symbols` are added as single tokens next to SPECIAL_TOKENS.
    """
    import sentencepiece

    asked, vocab_size = vocab_size, vocab_size or DEFAULT_VOCAB_SIZE
    chunks = list(_training_chunks(texts, max_chars))
    if not chunks:
        raise IndexerError("no Rust code to train the native tokenizer on", "index commits first")
    for _attempt in range(3):
        out = io.BytesIO()
        try:
            sentencepiece.SentencePieceTrainer.train(
                sentence_iterator=iter(chunks),
                model_writer=out,
                vocab_size=vocab_size,
                # Our markers are user symbols: matched in text and decoded to their
                # text (a control symbol would decode to "").
                user_defined_symbols=[*NATIVE_SYMBOLS, *extra_symbols],
                **TRAINER_OPTIONS,
            )
        except RuntimeError as e:
            message = str(e)
            if high := re.search(r"Vocabulary size too high .*<= (\d+)", message):
                vocab_size = int(high.group(1))
                continue
            if low := re.search(r"smaller than required_chars\. \d+ vs (\d+)", message):
                # the characters, the special tokens and some room for merges
                needed = int(low.group(1)) + len(NATIVE_SYMBOLS) + len(extra_symbols) + 256
                needed = -(-needed // VOCAB_MULTIPLE) * VOCAB_MULTIPLE
                if asked is None:
                    vocab_size = needed
                    continue
                raise IndexerError(
                    f"vocabulary size {vocab_size} is too small for this code",
                    f"use at least {low.group(1)}"
                    f" (`commit-indexer tokenizer train --vocab-size {needed}`)",
                ) from None
            raise IndexerError(f"training the native tokenizer failed: {message}") from None
        return Tokenizer.from_bytes("sentencepiece", out.getvalue(), name)
    raise IndexerError("training the native tokenizer failed: no vocabulary size fits")
