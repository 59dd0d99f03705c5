"""Fill-in-the-middle targets (`export --target fim`, issue 20): the file around the
item, cut at whole lines from the item outwards, the item as the middle, labels on
the middle and the end token in every template, and no secret from the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gitrepo import Repo, backfill, cli
from planted import GITHUB
from test_model_tokenizers import qwen_like
from test_splits import CARGO
from test_tokenizer import rust_files, train_hf

from indexer.dataset.tokenizer import (
    SPECIAL_TOKENS,
    STARCODER_FIM_TOKENS,
    STARCODER_TOKENS,
    train_native,
)

ABOVE = "".join(f"// above {n}\n" for n in range(120))
BELOW = "".join(f"// below {n}\n" for n in range(120))


def _target(v: int) -> str:
    return (
        "pub fn middle() -> u32 {\n"
        + "".join(f"    let m{i} = {v};\n" for i in range(4))
        + "    m0\n}\n"
    )


def _history(repo: Repo, secret: str = "") -> str:
    lib = lambda v: f"{ABOVE}{secret}{_target(v)}{BELOW}"  # noqa: E731
    repo.commit({"Cargo.toml": CARGO, "src/lib.rs": lib(1)}, "Add middle")
    return repo.commit({"src/lib.rs": lib(2)}, "Middle counts from two")


def _export(repo: Repo, out: Path, *flags: str) -> tuple[list[dict], dict]:
    result = cli("export", out, "--repo", repo.path, "--target", "fim", "--keep", "clones", *flags)
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for f in sorted(out.glob("*.jsonl")) for line in f.open()]
    return records, json.loads((out / "manifest.json").read_text())


def test_the_file_around_is_cut_at_whole_lines_the_nearest_first(
    repo: Repo, tmp_path: Path
) -> None:
    oid = _history(repo)
    backfill(repo)
    kept = []
    for budget in (120, 300, 4096):
        records, _ = _export(repo, tmp_path / f"out-{budget}", "--max-tokens", str(budget))
        (record,) = [r for r in records if r["commit"] == oid]
        assert record["n_tokens"] <= budget
        segments = {s["kind"]: s["text"] for s in record["segments"]}
        prefix, suffix = segments.get("fim_prefix", ""), segments.get("fim_suffix", "")
        assert ABOVE.endswith(prefix) and (not prefix or prefix.startswith("// above"))
        assert ("\n" + BELOW).startswith(suffix)  # from the end of the middle's last line
        assert record["completion"] == _target(2).removesuffix("\n")
        kept.append((prefix.count("\n"), suffix.count("\n")))
    assert kept[0] < kept[1] < kept[2]  # more of the file for a larger budget
    assert 0 < kept[0][0] and 0 < kept[0][1]  # both sides, the nearest lines
    assert kept[2] == (120, 121)  # the whole file: its 120 lines each side


@pytest.mark.parametrize("family", ["native", "starcoder", "plain"])
def test_the_labels_are_the_middle_and_the_end_token(
    repo: Repo, tmp_path: Path, family: str
) -> None:
    from tokenizers import Tokenizer as HF

    oid = _history(repo)
    backfill(repo)
    end = "<|end|>"
    if family == "starcoder":
        path = train_hf(tmp_path / "sc.json", rust_files(), STARCODER_TOKENS + STARCODER_FIM_TOKENS)
        end = "<|endoftext|>"
    elif family == "plain":
        path = qwen_like(tmp_path / "qwen.json")
        end = "<|endoftext|>"
    if family != "native":
        assert cli("tokenizer", "use", path, "--repo", repo.path).exit_code == 0
    records, _ = _export(repo, tmp_path / f"out-{family}", "--max-tokens", "300")
    (record,) = [r for r in records if r["commit"] == oid]
    tok = HF.from_file(str(tmp_path / f"out-{family}" / "tokenizer.json"))
    learnt = [i for i in record["labels"] if i != -100]
    assert tok.decode(learnt, skip_special_tokens=False) == record["completion"] + end
    assert tok.decode(record["input_ids"], skip_special_tokens=False) == record["text"] + end
    assert record["completion"] == _target(2).removesuffix("\n")
    marks = {"native": "<|fim_middle|>", "starcoder": "<fim_middle>", "plain": "## code between"}
    assert record["prompt"].rstrip().endswith(marks[family])


def test_a_secret_in_the_file_around_does_not_reach_the_export(repo: Repo, tmp_path: Path) -> None:
    _history(repo, secret=f'const TOKEN: &str = "{GITHUB}";\n')
    backfill(repo)
    out = tmp_path / "out"
    records, _ = _export(repo, out)
    assert records and any("const TOKEN" in r["prompt"] for r in records)
    assert not any(GITHUB in f.read_text() for f in out.glob("*.jsonl"))


def test_containers_are_left_out_and_counted(repo: Repo, tmp_path: Path) -> None:
    method = "    pub fn f(&self) -> u32 {\n        let a = 1;\n        a\n    }\n"
    code = f"pub struct S;\n\n/// Its methods.\n#[allow(dead_code)]\nimpl S {{\n{method}}}\n"
    repo.commit({"Cargo.toml": CARGO, "src/lib.rs": code}, "Add S")
    backfill(repo)
    records, manifest = _export(
        repo, tmp_path / "out", "--keep", "trivial", "--keep", "shell", "--min-lines", "1"
    )
    assert manifest["funnel"]["left_out"]["fim_container"] >= 1
    assert not any(r["kind"] == "impl" for r in records)


def test_a_native_tokenizer_without_the_fim_tokens_is_refused_with_a_hint(
    repo: Repo, tmp_path: Path
) -> None:
    """One trained before FIM: its user symbols are the other native tokens only."""
    import io

    import sentencepiece

    from indexer.dataset.tokenizer import TRAINER_OPTIONS

    _history(repo)
    backfill(repo)
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(rust_files()),
        model_writer=model,
        vocab_size=600,
        user_defined_symbols=list(SPECIAL_TOKENS),
        **TRAINER_OPTIONS,
    )
    old = tmp_path / "old.model"
    old.write_bytes(model.getvalue())
    assert cli("tokenizer", "use", old, "--repo", repo.path, "--template", "native").exit_code == 0
    result = cli("export", tmp_path / "out", "--repo", repo.path, "--target", "fim")
    assert result.exit_code == 2
    assert "error:" in result.output and "<|fim_prefix|>" in result.output
    assert "hint:" in result.output and "tokenizer train" in result.output
    # every other export still works with it
    assert cli("export", tmp_path / "items", "--repo", repo.path).exit_code == 0
    assert train_native(rust_files(), 600).token_id("<|fim_prefix|>") is not None


def test_show_prints_the_file_around_and_the_middle(repo: Repo) -> None:
    oid = _history(repo, secret=f'const TOKEN: &str = "{GITHUB}";\n')
    backfill(repo)
    shown = cli("show", oid, "--repo", repo.path, "--target", "fim")
    assert shown.exit_code == 0, shown.output
    text = shown.output
    assert text.index("<fim_prefix>") < text.index("// above 119") < text.index("<fim_suffix>")
    assert text.index("<fim_suffix>") < text.index("// below 0") < text.index("<fim_middle>")
    assert "let m3 = 2;" in text.split("<fim_middle>")[1]
    assert GITHUB not in text  # screened as the export screens it
    refused = cli("show", oid, "--repo", repo.path, "--target", "fim", "--unit", "commit")
    assert refused.exit_code == 2 and "hint:" in refused.output
