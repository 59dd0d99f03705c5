"""Every template with a tokenizer of each model family, built here with `tokenizers`
(and SentencePiece for Llama's own `.model`), as the models ship them:

- StarCoder-like: byte-level BPE with StarCoder's special tokens;
- Qwen-like: byte-level BPE behind a regex split and NFC, `<|endoftext|>` and chat tokens;
- Llama-like: SentencePiece-style BPE with byte fallback and the dummy prefix (`▁`
  before the text), as a tokenizer.json and as a SentencePiece `.model`;
- the native tokenizer.

For each, the template that fits it is found from its vocabulary, the labels decode
to exactly the target and its end token, no token is new to it, and the model's own
tokenizer (loaded from the unchanged file) decodes our ids to the rendered text.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from test_tokenizer import make_example, rust_files, train_hf

from indexer.dataset.budget import (
    IGNORE,
    Fitted,
    encode_example,
    fit,
    fitting_templates,
    render_text,
)
from indexer.dataset.tokenizer import (
    END,
    STARCODER_TOKENS,
    Tokenizer,
    load_tokenizer,
    train_native,
)

QWEN_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def qwen_like(path: Path) -> Path:
    """Qwen2's shape: NFC, a regex split, byte-level BPE, `<|endoftext|>` as EOS."""
    from tokenizers import Regex, decoders, models, normalizers, pre_tokenizers, trainers
    from tokenizers import Tokenizer as HF

    tok = HF(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(rust_files(), trainer)
    path.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(path))
    return path


def llama_like(path: Path) -> Path:
    """Llama 2's tokenizer.json shape: `▁` for spaces and one before the text, BPE
    with byte fallback, a decoder that strips the leading space, `</s>` as EOS."""
    from tokenizers import Tokenizer as HF
    from tokenizers import models, pre_tokenizers, trainers

    tok = HF(models.BPE(unk_token="<unk>", fuse_unk=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first", split=False)
    trainer = trainers.BpeTrainer(
        vocab_size=500, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False
    )
    tok.train_from_iterator(rust_files(), trainer)
    spec = json.loads(tok.to_str())
    for b in range(256):  # the byte pieces come last, as the trainer did not make them
        spec["model"]["vocab"].setdefault(f"<0x{b:02X}>", len(spec["model"]["vocab"]))
    spec["model"]["byte_fallback"] = True
    spec["pre_tokenizer"] = None
    replace = {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}
    spec["normalizer"] = {
        "type": "Sequence",
        "normalizers": [{"type": "Prepend", "prepend": "\u2581"}, replace],
    }
    unreplace = {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}
    spec["decoder"] = {
        "type": "Sequence",
        "decoders": [
            unreplace,
            {"type": "ByteFallback"},
            {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0},
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(spec, ensure_ascii=False))
    return path


def sentencepiece_model(**options: object) -> bytes:
    """A SentencePiece model trained here on `rust_files()`: identity normalization,
    whitespace kept, byte fallback, and `options`."""
    import sentencepiece

    out = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(rust_files()),
        model_writer=out,
        vocab_size=500,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        byte_fallback=True,
        minloglevel=2,
        **options,
    )
    return out.getvalue()


def llama_model(path: Path) -> Path:
    """Llama 2's tokenizer.model shape: SentencePiece BPE, identity normalization,
    dummy prefix, byte fallback."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(sentencepiece_model(model_type="bpe", add_dummy_prefix=True))
    return path


FAMILIES = ("starcoder", "qwen", "llama-json", "llama-model", "native")
# The templates each family fits, in the order `tokenizer use` would pick them.
FITS = {
    "starcoder": ["starcoder", "plain"],
    "qwen": ["plain"],
    "llama-json": ["plain"],
    "llama-model": ["plain"],
    "native": ["native", "plain"],
}
# What each family's end-of-text token decodes to (Llama's </s> is a SentencePiece
# control piece: nothing).
ENDS = {
    "starcoder": "<|endoftext|>",
    "qwen": "<|endoftext|>",
    "llama-json": "</s>",
    "llama-model": "",
    "native": END,
}


@pytest.fixture(scope="module")
def family_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("families")
    native = root / "native.model"
    native.write_bytes(train_native(rust_files(), 600).to_bytes())
    return {
        "starcoder": train_hf(root / "sc.json", rust_files(), STARCODER_TOKENS),
        "qwen": qwen_like(root / "qwen.json"),
        "llama-json": llama_like(root / "llama.json"),
        "llama-model": llama_model(root / "llama.model"),
        "native": native,
    }


def own_decoder(path: Path) -> object:
    """The model's own tokenizer, from its file as it was given."""
    if path.suffix == ".model":
        import sentencepiece

        return sentencepiece.SentencePieceProcessor(model_file=str(path)).decode
    from tokenizers import Tokenizer as HF

    hf = HF.from_file(str(path))
    return lambda ids: hf.decode(ids, skip_special_tokens=False)


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_fits_its_templates(family_files: dict[str, Path], family: str) -> None:
    path = family_files[family]
    tok = load_tokenizer(path)
    assert fitting_templates(tok) == FITS[family]
    assert tok.to_bytes() == path.read_bytes()  # the file is used as it is
    decode = own_decoder(path)
    vocab = tok.vocab_size
    for template in FITS[family]:
        for change in ("modified", "added"):
            example = make_example(change=change)
            encoded = encode_example(example, tok, template)
            for budget in (8192, 150):
                result = fit(encoded, budget)
                assert isinstance(result, Fitted)
                assert max(result.input_ids) < vocab  # no token is new to it
                end = {"native": END}.get(template, ENDS[family])
                assert tok.decode([result.input_ids[-1]]) == end
                # the labels are the target and the end token, nothing else
                learnt = [i for i in result.labels if i != IGNORE]
                assert tok.decode(learnt) == example.target + end
                n = len(learnt)
                assert result.labels[-n:] == result.input_ids[-n:]
                text = render_text(example, result, template, end)
                assert tok.decode(result.input_ids) == text
                assert decode(result.input_ids) == text  # and so does the model's own


def test_the_text_as_the_model_reads_it(family_files: dict[str, Path]) -> None:
    """What the changes to the model's tokenizer amount to: a text is encoded as the
    model encodes it in the middle of a longer one, and decodes to itself."""
    from tokenizers import Tokenizer as HF

    text = 'fn main() {\n    let s = "caf\u00e9";\n}\n'
    qwen = HF.from_file(str(family_files["qwen"]))
    assert load_tokenizer(family_files["qwen"]).encode(text) == qwen.encode(text).ids
    non_nfc = 'let e = "e\u0301";'  # Qwen's NFC would make it "é"
    assert qwen.decode(qwen.encode(non_nfc).ids) != non_nfc
    assert (
        load_tokenizer(family_files["qwen"]).decode(
            load_tokenizer(family_files["qwen"]).encode(non_nfc)
        )
        == non_nfc
    )
    llama = HF.from_file(str(family_files["llama-json"]))
    ours = load_tokenizer(family_files["llama-json"])
    # in the middle of a text, Llama's encoding of " x" is ours
    assert llama.encode("a x", add_special_tokens=False).ids[-1:] == ours.encode(" x")[-1:]
    assert llama.encode("x", add_special_tokens=False).tokens[0].startswith("\u2581")
    assert not llama.id_to_token(ours.encode("x")[0]).startswith("\u2581")


@pytest.mark.parametrize("family", ["qwen", "llama-json", "llama-model", "starcoder"])
def test_an_export_with_a_models_tokenizer_loads_it_with_auto_tokenizer(
    family_files: dict[str, Path], family: str, tmp_path: Path
) -> None:
    """`tokenizer use` picks the template, the export ships the tokenizer as it was
    used, and transformers' AutoTokenizer decodes each record's ids to its text and
    encodes its target to the ids it learns. (Its whole text encodes to other ids
    where BPE merges across the seams of the pieces that were encoded one by one.)"""
    import datasets
    from gitrepo import backfill, cli, make_repo
    from test_splits import history
    from transformers import AutoTokenizer

    repo = make_repo(tmp_path)
    history(repo, items=6, versions=2)
    repo.commit({"src/odd.rs": 'pub fn odd() -> &\'static str {\n    "e\u0301 \u2581"\n}\n'}, "Odd")
    backfill(repo)
    used = cli("tokenizer", "use", family_files[family], "--repo", repo.path)
    assert used.exit_code == 0 and f"template {FITS[family][0]} " in used.output, used.output
    # a folder of its own name: `datasets` caches a local folder by its name, its
    # files' names and their mtimes, and two exports can share a second
    out = tmp_path / f"out-{family}"
    assert cli("export", out, "--repo", repo.path, "--keep", "trivial").exit_code == 0
    tok = AutoTokenizer.from_pretrained(str(out))
    assert tok.eos_token == {"llama-model": "</s>"}.get(family, ENDS[family])
    rows = [r for split in datasets.load_dataset(str(out)).values() for r in split]
    assert any("\u2581" in r["target"] for r in rows)
    for record in rows:
        ids = record["input_ids"]
        assert ids[-1] == tok.eos_token_id
        assert tok.decode(ids) == record["text"] + tok.eos_token
        learnt = [i for i in record["labels"] if i != -100]
        if "\u2581" not in record["completion"]:  # a literal one: our byte pieces, its "▁"
            assert tok(record["completion"], add_special_tokens=False).input_ids == learnt[:-1]


@pytest.mark.parametrize("model_type", ["bpe", "unigram"])
def test_a_sentencepiece_model_ships_as_a_tokenizer_json_that_encodes_alike(
    model_type: str,
) -> None:
    """What an export ships for a SentencePiece model: a tokenizer.json that gives the
    same ids as SentencePiece (its merges from the piece scores, or its unigram
    scores) and decodes them to the text; our markers stay whole."""
    from tokenizers import Tokenizer as HF

    if model_type == "bpe":
        tok = train_native(rust_files(), 600)
    else:
        data = sentencepiece_model(
            model_type="unigram", add_dummy_prefix=False, split_by_whitespace=False
        )
        tok = Tokenizer.from_bytes("sentencepiece", data, "unigram.model")
    hf = HF.from_str(tok.to_json())
    texts = [*rust_files(12), "<|path|>src/a.rs<|msg|>Fix   it\n\t\tok é中🦀 x<|end|>"]
    if model_type == "unigram":
        texts = texts[:-1]  # its vocabulary has no markers
    for text in texts:
        ids = tok.encode(text)
        assert hf.encode(text, add_special_tokens=False).ids == ids
        assert hf.decode(ids, skip_special_tokens=False) == text
