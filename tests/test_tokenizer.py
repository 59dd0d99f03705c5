"""Tokenizers, templates and budget fitting, on tiny tokenizers trained here.

Both kinds are trained in the test session on generated Rust: the native SentencePiece
model and a byte-level BPE `tokenizer.json` built with the `tokenizers` library.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from indexer.dataset.budget import (
    IGNORE,
    TARGET_TOO_LONG,
    TEMPLATES,
    EncodedExample,
    Fitted,
    SkipReason,
    encode_example,
    fit,
    render_text,
)
from indexer.dataset.tokenizer import (
    END,
    SPECIAL_TOKENS,
    STARCODER_TOKENS,
    Tokenizer,
    load_tokenizer,
    train_native,
)
from indexer.errors import IndexerError
from indexer.shapes import ITEM_KINDS, SEGMENT_KINDS, Example, Segment

STRUCT = """\
/// A user of the roster, with an id and a name.
#[derive(Debug, Clone, PartialEq)]
pub struct {name} {{
    pub id: u64,
    pub name: String,
    pub tags: Vec<String>,
}}
"""
IMPL = """\
impl {name} {{
    /// Makes a {name} with no tags.
    pub fn new(id: u64, name: &str) -> Self {{
        Self {{ id, name: name.to_string(), tags: Vec::new() }}
    }}

    pub fn tag(&mut self, tag: impl Into<String>) -> &mut Self {{
\t\tself.tags.push(tag.into());
\t\tself
    }}
}}
"""
CRLF = 'pub fn crlf_{i}() -> &\'static str {{\r\n    r#"raw "quoted" {i}"#\r\n}}\r\n'
UNICODE = '// Grüße, 世界 🦀 {i}\nconst GREETING_{i}: &str = "héllo — ünïcödé";\n'
TRAIT = """\
pub trait Store {{
    type Error;
    fn get(&self, id: u64) -> Result<Option<{name}>, Self::Error>;
    fn put(&mut self, user: {name}) -> Result<(), Self::Error>;
}}

macro_rules! ensure_{i} {{
    ($cond:expr, $err:expr) => {{
        if !$cond {{ return Err($err); }}
    }};
}}
"""


def rust_files(n: int = 30) -> list[str]:
    """n small Rust files of the shapes real code has."""
    names = ["User", "Group", "Roster", "Config", "Account", "Session"]
    files = []
    for i in range(n):
        name = f"{names[i % len(names)]}{i}"
        text = STRUCT.format(name=name) + "\n" + IMPL.format(name=name)
        text += "\n" + TRAIT.format(name=name, i=i) + CRLF.format(i=i) + UNICODE.format(i=i)
        files.append(text)
    return files


AWKWARD = [
    "",
    "\n",
    "\r",
    "\r\n",
    "\t",
    "a\rb\r\nc\n",
    " leading space",
    "trailing space ",
    " " * 40 + "x" + "\t" * 9 + "\n\n\n\n",
    "\t\tif x {\r\n\t\t\treturn;\r\n\t\t}\r\n",
    'let s = r#"a "raw" string"#;\nlet t = r##"with # inside"##;',
    "emoji 🦀🎉 CJK 中文字符 Hangul 한국어 combining e\u0301",
    "\u2581 the SentencePiece space symbol \u2581\u2581",
    "zero\u200bwidth\ufeffbom\u2028line\u2029para\x0cform\x0bvt\x85nel",
    "<|end|> and <commit_before> written in code",
    rust_files(1)[0],
]


def train_hf(path: Path, texts: list[str], specials: tuple[str, ...]) -> Path:
    """A byte-level BPE tokenizer.json, the kind code models ship."""
    from tokenizers import Tokenizer as HF
    from tokenizers import decoders, models, pre_tokenizers, trainers

    tok = HF(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=list(specials),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    path.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(path))
    return path


@pytest.fixture(scope="module")
def native() -> Tokenizer:
    return train_native(rust_files(), vocab_size=600)


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory: pytest.TempPathFactory, native: Tokenizer) -> dict[str, Tokenizer]:
    """One tokenizer of each kind that has the tokens of both templates."""
    path = tmp_path_factory.mktemp("hf") / "tokenizer.json"
    train_hf(path, rust_files(), SPECIAL_TOKENS + STARCODER_TOKENS)
    return {
        "sentencepiece": train_native(rust_files(), 600, extra_symbols=STARCODER_TOKENS),
        "hf": load_tokenizer(path),
    }


def make_example(n_defs: int = 3, def_lines: int = 4, change: str = "modified") -> Example:
    defs = []
    for i in range(n_defs):
        fields = "".join(f"    pub field_{j}: Vec<u{8 << (j % 3)}>,\n" for j in range(def_lines))
        docs = f"/// Definition {i}, with docs.\n#[derive(Debug, Clone)]\n"
        body = f"pub struct Def{i} {{\n{fields}}}"
        kind = "edit_struct" if i == 1 else "ctx_struct"  # one edit of the same commit
        defs.append(Segment(kind, docs + body, (body, f"pub struct Def{i} {{ .. }}")))
    old = "" if change == "added" else "pub fn run(x: u32) -> u32 {\n\tx + 1\n}"
    return Example(
        commit="c" * 40,
        parent="p" * 40,
        path="src/run.rs",
        kind="fn",
        name="run",
        qualname="run",
        change=change,
        segments=(
            Segment("path", "src/run.rs"),
            Segment("msg", "Run twice\r\n\r\nBody: 🦀 ünïcödé"),
            Segment("old", old),
            Segment("imports", "use crate::model::{Def0, Def1};\nuse std::fmt;"),
            *defs,
        ),
        target="pub fn run(x: u32) -> u32 {\r\n\t// 二回\n" + " " * 24 + "x + 2\n}",
    )


def end_text(tok: Tokenizer, template: str) -> str:
    """What the end token of `template` decodes to."""
    ends = {"native": END, "starcoder": "<|endoftext|>"}
    return ends.get(template) or tok.decode([tok.eos_id])


def fitted(example: Example, tok: Tokenizer, template: str, budget: int) -> Fitted:
    result = fit(encode_example(example, tok, template), budget)
    assert isinstance(result, Fitted), result
    return result


def test_an_edit_of_the_same_commit_is_marked_as_new_context(
    tokenizers: dict[str, Tokenizer],
) -> None:
    example = make_example()
    for template, marker in (("native", "<|ctx_struct|><|new|>"), ("starcoder", "")):
        text = render_text(example, fitted(example, tokenizers["hf"], template, 8192), template)
        assert f"{marker}/// Definition 1, with docs." in text
        assert "<|ctx_struct|>/// Definition 0" in text or template != "native"


def test_special_tokens_follow_the_kinds() -> None:
    assert len(SPECIAL_TOKENS) >= 30
    assert len(set(SPECIAL_TOKENS)) == len(SPECIAL_TOKENS)
    for kind in SEGMENT_KINDS:  # an edit is marked by its context kind's token
        assert (f"<|{kind}|>" in SPECIAL_TOKENS) != kind.startswith("edit_")
    for kind in ITEM_KINDS:
        assert f"<|ctx_{kind}|>" in SPECIAL_TOKENS and f"<|item_{kind}|>" in SPECIAL_TOKENS


@pytest.mark.parametrize("text", AWKWARD, ids=range(len(AWKWARD)))
@pytest.mark.parametrize("kind", ["sentencepiece", "hf"])
def test_round_trip(tokenizers: dict[str, Tokenizer], kind: str, text: str) -> None:
    tok = tokenizers[kind]
    assert tok.decode(tok.encode(text)) == text


def test_native_is_lossless_and_compact(native: Tokenizer) -> None:
    for text in rust_files():
        ids = native.encode(text)
        assert native.decode(ids) == text
        assert len(ids) < len(text) / 2.5  # whitespace runs and keywords are pieces
    assert native.encode("") == []  # no BOS, EOS or dummy prefix
    assert native.decode(native.encode("    ")) == "    "
    for token in SPECIAL_TOKENS:
        i = native.token_id(token)
        assert i is not None and native.encode(token) == [i] and native.decode([i]) == token
    assert native.token_id("<commit_before>") is None


def test_training_is_deterministic() -> None:
    a, b = train_native(rust_files(), 600), train_native(rust_files(), 600)
    assert a.to_bytes() == b.to_bytes() and a.sha256 == b.sha256


def test_vocab_shrinks_to_a_tiny_corpus() -> None:
    tok = train_native(rust_files(3), vocab_size=8000)
    assert tok.vocab_size < 8000
    assert tok.decode(tok.encode(rust_files(5)[4])) == rust_files(5)[4]
    with pytest.raises(IndexerError) as e:
        train_native(rust_files(3), vocab_size=50)
    assert "at least" in str(e.value.hint) and "tokenizer train --vocab-size" in str(e.value.hint)


def test_the_default_vocabulary_grows_to_what_the_characters_need() -> None:
    # 9,000 distinct characters, each common enough to be kept: more than 8,000 pieces
    chars = [chr(0x4E00 + i) for i in range(9000)]
    texts = [
        *rust_files(3),
        *(f'const S{i}: &str = "{"".join(chars[i::50]) * 3}";\n' for i in range(50)),
    ]
    tok = train_native(texts)
    assert tok.vocab_size > 9000 and tok.vocab_size % 64 == 0
    assert tok.decode(tok.encode(texts[-1])) == texts[-1]
    with pytest.raises(IndexerError, match="no Rust code"):
        train_native([])


@pytest.mark.parametrize("kind", ["sentencepiece", "hf"])
def test_bytes_round_trip(tokenizers: dict[str, Tokenizer], kind: str) -> None:
    tok = tokenizers[kind]
    again = Tokenizer.from_bytes(kind, tok.to_bytes(), tok.name)
    assert again.kind == kind and again.sha256 == tok.sha256 and again.vocab_size == tok.vocab_size
    for text in AWKWARD:
        assert again.encode(text) == tok.encode(text)


def test_load_files_and_errors(native: Tokenizer, tmp_path: Path) -> None:
    model = tmp_path / "native.model"
    model.write_bytes(native.to_bytes())
    assert load_tokenizer(model).sha256 == native.sha256
    hf = train_hf(tmp_path / "model" / "tokenizer.json", rust_files(5), ())
    assert load_tokenizer(hf.parent).kind == "hf"  # a model directory works too

    bad_model = tmp_path / "bad.model"
    bad_model.write_bytes(b"\x00not a model")
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"version": "1.0", "model": 42}')
    cases = [bad_model, bad_json, tmp_path / "missing.model", tmp_path / "vocab.txt", tmp_path]
    for path in cases:
        with pytest.raises(IndexerError) as e:
            load_tokenizer(path)
        assert e.value.hint


def test_lossy_tokenizer_is_refused(tmp_path: Path) -> None:
    path = train_hf(tmp_path / "tokenizer.json", rust_files(5), ())
    spec = json.loads(path.read_text())
    spec["normalizer"] = {"type": "Lowercase"}
    path.write_text(json.dumps(spec))
    with pytest.raises(IndexerError, match="does not give back"):
        load_tokenizer(path)


def test_a_dummy_prefix_is_turned_off(tmp_path: Path) -> None:
    """A Llama-style model adds a space before each encoded text, so pieces encoded one
    by one would not decode to the text joined: the prefix is turned off, as in the
    middle of a text, and the model file is kept as it was."""
    import sentencepiece

    path = tmp_path / "llama-like.model"
    with path.open("wb") as out:
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=iter(rust_files(5)),
            model_writer=out,
            vocab_size=400,
            model_type="bpe",
            normalization_rule_name="identity",  # Llama 2's normalizer spec
            add_dummy_prefix=True,
            remove_extra_whitespaces=False,
            byte_fallback=True,
            minloglevel=2,
        )
    own = sentencepiece.SentencePieceProcessor(model_file=str(path))
    assert own.encode("x", out_type=str)[0].startswith("\u2581")  # it has the prefix
    tok = load_tokenizer(path)
    assert tok.to_bytes() == path.read_bytes()
    pieces = ["fn main() {", "\n    run(1);", " ", "\u2581", "}\n"]
    assert tok.decode([i for p in pieces for i in tok.encode(p)]) == "".join(pieces)
    assert tok.eos_id == own.eos_id() and tok.decode([tok.eos_id]) == ""  # </s>, a control
    ids = [i for p in pieces for i in tok.encode(p)]
    assert own.decode(ids) == "".join(pieces)  # the model's own decoding agrees


@pytest.mark.parametrize("change", ["modified", "added"])
@pytest.mark.parametrize("template", sorted(TEMPLATES))
@pytest.mark.parametrize("kind", ["sentencepiece", "hf"])
def test_decode_is_the_rendered_text(
    tokenizers: dict[str, Tokenizer], kind: str, template: str, change: str
) -> None:
    tok = tokenizers[kind]
    example = make_example(change=change)
    encoded = encode_example(example, tok, template)
    full = fit(encoded, 8192)
    assert isinstance(full, Fitted) and full.fits_whole
    for budget in range(full.n_tokens, 0, -7):
        result = fit(encoded, budget)
        if isinstance(result, SkipReason):
            break
        assert result.n_tokens <= budget
        eos = end_text(tok, template)
        assert tok.decode(result.input_ids) == render_text(example, result, template, eos)
    text = render_text(example, full, template, end_text(tok, template))
    assert text.endswith(example.target + end_text(tok, template))
    for segment in example.segments:
        assert segment.text in text


@pytest.mark.parametrize("template", sorted(TEMPLATES))
@pytest.mark.parametrize("kind", ["sentencepiece", "hf"])
def test_labels_mask_exactly_the_context(
    tokenizers: dict[str, Tokenizer], kind: str, template: str
) -> None:
    tok = tokenizers[kind]
    example = make_example()
    for budget in (8192, 120):
        result = fitted(example, tok, template, budget)
        n_target = len(tok.encode(example.target)) + 1  # and the end token
        context = result.n_tokens - n_target
        assert result.labels[:context] == [IGNORE] * context
        assert result.labels[context:] == result.input_ids[context:]
        end = end_text(tok, template)
        assert tok.decode(result.input_ids[context:]) == example.target + end
        assert result.attention_mask == [1] * result.n_tokens


def test_budget_shortens_then_drops_lowest_priority_first(native: Tokenizer) -> None:
    example = make_example(n_defs=3)
    encoded = encode_example(example, native)
    whole = fitted(example, native, "native", 8192)
    assert whole.kept == tuple(range(len(example.segments))) and whole.fits_whole

    # The last definition's variants, longest first: docs dropped, then header only.
    last = len(example.segments) - 1
    sizes = [
        len(native.encode(t))
        for t in (example.segments[last].text, *example.segments[last].variants)
    ]
    for k in (1, 2):
        result = fit(encoded, whole.n_tokens - (sizes[0] - sizes[k]))
        assert isinstance(result, Fitted) and result.choices[last] == k
        assert result.shortened == (last,) and not result.dropped and not result.fits_whole

    # Definitions go breadth first: without room for the last one's text, it keeps its
    # header line, and the one before it gives way for that before it is dropped.
    result = fitted(example, native, "native", whole.n_tokens - sizes[0])
    assert not result.dropped and result.choices[last] == 2
    assert result.choices[last - 1] > 0 and all(c == 0 for c in result.choices[: last - 1])
    defs = [i for i, seg in enumerate(example.segments) if seg.kind.endswith("_struct")]
    saved = sum(
        len(native.encode(example.segments[i].text))
        - len(native.encode(example.segments[i].variants[-1]))
        for i in defs
    )
    result = fitted(example, native, "native", whole.n_tokens - saved)
    assert [result.choices[i] for i in defs] == [2] * len(defs)

    # Smaller still: every definition goes, then the rest by priority; the target stays.
    target = native.encode(example.target)
    smallest = None
    for budget in range(whole.n_tokens, 0, -1):
        result = fit(encoded, budget)
        if isinstance(result, SkipReason):
            break
        smallest = result
        assert result.input_ids[-len(target) - 1 : -1] == target
    assert smallest is not None and smallest.kept == () and len(smallest.dropped) > 0
    assert smallest.dropped == tuple(i for i, s in enumerate(example.segments) if s.text)


def test_target_too_long_is_skipped(native: Tokenizer) -> None:
    example = make_example()
    encoded = encode_example(example, native)
    need = len(native.encode(example.target)) + 4  # <|item_fn|><|modified|><|new|> … <|end|>
    assert isinstance(fit(encoded, need), Fitted)
    skip = fit(encoded, need - 1)
    assert skip == SkipReason(TARGET_TOO_LONG, need, need - 1)
    with pytest.raises(IndexerError):
        fit(encoded, 0)


@pytest.mark.parametrize("budget", [2048, 4096, 8192])
def test_common_budgets(tokenizers: dict[str, Tokenizer], budget: int) -> None:
    tok = tokenizers["hf"]
    example = make_example(n_defs=60, def_lines=12)  # about 6k tokens of context
    result = fitted(example, tok, "native", budget)
    assert budget - 200 < result.n_tokens <= budget or result.fits_whole
    assert tok.decode(result.input_ids) == render_text(example, result, "native")


def test_encoded_example_bytes(tokenizers: dict[str, Tokenizer]) -> None:
    for tok in tokenizers.values():
        for template in TEMPLATES:
            encoded = encode_example(make_example(), tok, template)
            data = encoded.to_bytes()
            assert EncodedExample.from_bytes(data) == encoded
            n_ids = sum(len(p.head) + len(p.tail) + sum(map(len, p.forms)) for p in encoded.parts)
            assert encoded.parts[0].head.typecode == "H"  # a small vocabulary: uint16
            assert len(data) < 2 * n_ids + 4 * 8 * len(encoded.parts) + 32
            assert fit(EncodedExample.from_bytes(data), 300) == fit(encoded, 300)


def test_starcoder_needs_the_models_own_tokens(native: Tokenizer) -> None:
    with pytest.raises(IndexerError) as e:
        encode_example(make_example(), native, "starcoder")
    assert "<|endoftext|>" in e.value.message and "model's own tokenizer" in str(e.value.hint)
    with pytest.raises(IndexerError, match="unknown template"):
        encode_example(make_example(), native, "llama")


def test_tokenizer_use_infers_the_template_from_the_vocabulary(tmp_path: Path) -> None:
    from gitrepo import backfill, cli, make_repo

    repo = make_repo(tmp_path)
    repo.commit({"src/lib.rs": rust_files(1)[0]}, "Add the code")
    backfill(repo)
    starcoder = train_hf(tmp_path / "sc" / "tokenizer.json", rust_files(), STARCODER_TOKENS)
    used = cli("tokenizer", "use", starcoder.parent, "--repo", repo.path)  # a model's folder
    assert used.exit_code == 0, used.output
    assert "template starcoder (its vocabulary has the template's tokens" in used.output
    assert cli("export", tmp_path / "out", "--repo", repo.path).exit_code == 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["settings"]["template"] == "starcoder"
    plain = train_hf(tmp_path / "plain" / "tokenizer.json", rust_files(), ())
    refused = cli("tokenizer", "use", plain, "--repo", repo.path)
    assert refused.exit_code == 2
    assert "none of the templates (native, starcoder, plain)" in refused.output
    assert "--template starcoder" in refused.output  # the hint names the flag
    qwen = train_hf(tmp_path / "qwen" / "tokenizer.json", rust_files(), ("<|endoftext|>",))
    used = cli("tokenizer", "use", qwen, "--repo", repo.path)
    assert used.exit_code == 0 and "template plain (its vocabulary" in used.output
    named = cli("tokenizer", "use", starcoder, "--template", "native", "--repo", repo.path)
    assert named.exit_code == 2 and "--template starcoder" in named.output
