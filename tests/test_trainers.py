"""An export in the tools trainers already use: `datasets.load_dataset` on the folder,
our `collate` on what it yields, transformers' `Trainer` and TRL's `SFTTrainer` on a
tiny GPT-2, and the export's own tokenizer through `AutoTokenizer`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import datasets
import pytest
import torch
from gitrepo import Repo, backfill, cli, make_repo
from test_splits import history
from torch.utils.data import DataLoader
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

from indexer.dataset.loader import IGNORE_INDEX, collate


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A jsonl export of 40 fns, each changed 3 times, one change a commit."""
    tmp = tmp_path_factory.mktemp("trainers")
    repo: Repo = make_repo(tmp)
    history(repo, items=40, versions=4)
    backfill(repo)
    out = tmp / "out"
    result = cli("export", out, "--repo", repo.path)
    assert result.exit_code == 0, result.output
    return out


def test_an_export_with_an_empty_split_loads(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    history(repo, items=2, versions=1)
    backfill(repo)
    for fmt in ("jsonl", "parquet"):
        out = tmp_path / fmt
        result = cli("export", out, "--repo", repo.path, "--format", fmt)
        assert result.exit_code == 0, result.output
        counts = json.loads((out / "manifest.json").read_text())["counts"]
        assert 0 in counts.values()  # two items: a split is empty
        ds = datasets.load_dataset(str(out))
        assert {split: len(ds[split]) for split in ds} == {s: n for s, n in counts.items() if n}


def test_load_dataset_gives_hugging_face_splits_that_collate_takes(export: Path) -> None:
    ds = datasets.load_dataset(str(export))
    assert set(ds) == {"train", "validation", "test"}
    assert sum(map(len, ds.values())) > 50
    train = ds["train"]
    assert isinstance(train[0]["input_ids"], list)  # as load_dataset gives it: lists
    batch = next(iter(DataLoader(train, batch_size=8, collate_fn=collate)))
    longest = max(len(train[i]["input_ids"]) for i in range(8))
    assert batch["input_ids"].shape == (8, longest) and batch["input_ids"].dtype == torch.long
    for row in range(8):
        n = len(train[row]["input_ids"])
        assert batch["labels"][row, :n].tolist() == train[row]["labels"]
        assert (batch["labels"][row, n:] == IGNORE_INDEX).all()
        assert batch["attention_mask"][row].sum() == n
    tensors = next(iter(DataLoader(train.with_format("torch"), batch_size=8, collate_fn=collate)))
    assert all(torch.equal(tensors[key], batch[key]) for key in batch)


def test_trainer_trains_a_tiny_gpt2_straight_from_load_dataset(
    export: Path, tmp_path: Path
) -> None:
    ds = datasets.load_dataset(str(export))
    manifest = json.loads((export / "manifest.json").read_text())
    longest = max(len(ids) for split in ds.values() for ids in split["input_ids"])
    args = TrainingArguments(
        output_dir=str(tmp_path / "run"),  # the run's own folder: nothing else is written
        per_device_train_batch_size=8,
        per_device_eval_batch_size=8,
        learning_rate=3e-3,
        max_steps=40,
        report_to=[],
        save_strategy="no",
        logging_steps=10,
        use_cpu=True,
        seed=0,
    )
    trainer = Trainer(
        model=tiny_gpt2(manifest["tokenizer"]["vocab_size"], longest),
        args=args,
        train_dataset=ds["train"],
        eval_dataset=ds["train"],
        data_collator=collate,  # the labels are ours: -100 on the context
    )
    before = trainer.evaluate()["eval_loss"]
    trainer.train()
    after = trainer.evaluate()["eval_loss"]
    assert after < 0.7 * before, (before, after)


def test_the_readme_trains_on_an_export_as_written(export: Path, tmp_path: Path) -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    first = re.search(r"```python\n(.*?)```", readme, re.DOTALL)
    assert first is not None and "Trainer(" in first[1]
    script = first[1].replace('"OUT', f'"{export}')
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "train_loss" in done.stdout + done.stderr


def test_the_export_ships_the_tokenizer_that_made_its_ids(export: Path) -> None:
    """`AutoTokenizer.from_pretrained(OUT)` encodes a record's text to its ids and
    decodes them back; the SentencePiece model itself is there too, as it was."""
    import hashlib

    import sentencepiece
    import tokenizers
    from transformers import AutoTokenizer

    manifest = json.loads((export / "manifest.json").read_text())
    model = (export / "tokenizer.model").read_bytes()
    assert hashlib.sha256(model).hexdigest() == manifest["tokenizer"]["sha256"]
    for name in ("tokenizer.json", "tokenizer.model", "tokenizer_config.json"):
        assert name in manifest["files"]
    tok = AutoTokenizer.from_pretrained(str(export))
    assert (tok.eos_token, tok.pad_token) == ("<|end|>", "<|pad|>")
    sp = sentencepiece.SentencePieceProcessor(model_proto=model)
    plain = tokenizers.Tokenizer.from_file(str(export / "tokenizer.json"))
    train = datasets.load_dataset(str(export))["train"]
    for record in train.select(range(20)):
        ids = record["input_ids"]
        assert record["text"] == record["prompt"] + record["completion"]
        assert record["completion"] == record["target"]
        assert tok(record["text"], add_special_tokens=False).input_ids == ids[:-1]
        assert ids[-1] == tok.eos_token_id
        assert tok.decode(ids) == record["text"] + "<|end|>"
        assert plain.decode(ids, skip_special_tokens=False) == record["text"] + "<|end|>"
        assert sp.decode(ids) == record["text"] + "<|end|>"


def tiny_gpt2(vocab_size: int, n_positions: int) -> GPT2LMHeadModel:
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=vocab_size,
        n_positions=n_positions,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=None,  # GPT-2's own (50256) are not in this vocabulary
        eos_token_id=None,
    )
    return GPT2LMHeadModel(config)


def sft_config(tmp_path: Path, batch: int, steps: int) -> object:
    from trl import SFTConfig

    return SFTConfig(
        output_dir=str(tmp_path / "run"),  # the run's own folder: nothing else is written
        per_device_train_batch_size=batch,
        per_device_eval_batch_size=batch,
        learning_rate=3e-3,
        max_steps=steps,
        max_length=2048,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        seed=0,
    )


@pytest.mark.parametrize("columns", [("prompt", "completion"), ("text",)])
def test_sft_trainer_trains_on_the_text_columns(
    export: Path, tmp_path: Path, columns: tuple[str, ...]
) -> None:
    """TRL's SFTTrainer with the export's own tokenizer, on prompt/completion (the
    loss on the completion) or on text; the token columns are left aside, or TRL
    would take them as its own."""
    from transformers import AutoTokenizer
    from trl import SFTTrainer

    tokenizer = AutoTokenizer.from_pretrained(str(export))
    ds = datasets.load_dataset(str(export)).select_columns(list(columns))
    trainer = SFTTrainer(
        model=tiny_gpt2(len(tokenizer), 2048),
        args=sft_config(tmp_path, batch=8, steps=40),
        train_dataset=ds["train"],
        eval_dataset=ds["train"],
        processing_class=tokenizer,
    )
    before = trainer.evaluate()["eval_loss"]
    trainer.train()
    after = trainer.evaluate()["eval_loss"]
    assert after < 0.7 * before, (before, after)


def test_a_sharded_export_loads_and_streams(export: Path, tmp_path: Path) -> None:
    """`--shard-size` cuts the splits as the Hub does; `load_dataset` reads the shards
    (the card lists them), streams them, and gets what the whole files hold. (A
    parquet file is cut between row groups of 1,024 records: test_export's shards.)"""
    repo = export.parent / "repo"
    for fmt in ("jsonl",):
        out = tmp_path / f"sharded-{fmt}"
        result = cli("export", out, "--repo", repo, "--format", fmt, "--shard-size", "40KB")
        assert result.exit_code == 0, result.output
        shards = sorted(p.name for p in out.glob(f"train-*-of-*.{fmt}"))
        assert len(shards) > 2, sorted(p.name for p in out.iterdir())
        whole = datasets.load_dataset(str(export))["train"]
        cut = datasets.load_dataset(str(out))["train"]
        assert cut["id"] == whole["id"] and cut["input_ids"] == whole["input_ids"]
        streamed = datasets.load_dataset(str(out), streaming=True)["train"]
        assert [row["id"] for row in streamed] == whole["id"]


def test_a_packed_export_keeps_each_examples_labels_and_trains(
    export: Path, tmp_path: Path
) -> None:
    """`--pack N`: a split's examples end to end in sequences of at most N tokens, each
    example's tokens and labels as unpacked, position_ids from 0 at each; `collate`
    and `Trainer` take them as they are."""
    repo = export.parent / "repo"
    manifest = json.loads((export / "manifest.json").read_text())
    whole = datasets.load_dataset(str(export))
    for fmt in ("jsonl", "parquet", "pt"):
        out = tmp_path / f"packed-{fmt}"
        result = cli("export", out, "--repo", repo, "--format", fmt, "--pack", "4096")
        assert result.exit_code == 0, result.output
        assert "sequences of at most 4096 tokens, packing" in result.output
        packed = json.loads((out / "manifest.json").read_text())
        assert packed["settings"]["pack"] == 4096
        assert packed["funnel"]["exported"] == manifest["funnel"]["exported"]
        from indexer.dataset.loader import ExportDataset

        for split in ("train", "test"):
            examples = {r["id"]: r for r in whole[split]}
            rows = ExportDataset(out, split)
            seen = []
            for i in range(len(rows)):
                row, meta = rows[i], rows.meta(i)
                assert len(row["input_ids"]) <= 4096 and meta["split"] == split
                at = 0
                for member in meta["examples"]:
                    e = examples[member]
                    n = len(e["input_ids"])
                    assert row["input_ids"][at : at + n].tolist() == e["input_ids"]
                    assert row["labels"][at : at + n].tolist() == e["labels"]
                    assert row["position_ids"][at : at + n].tolist() == list(range(n))
                    at += n
                assert at == len(row["input_ids"])
                seen += meta["examples"]
            assert seen == whole[split]["id"]  # every example once, in export order
            assert len(rows) < len(seen) / 3  # and packed tight
    ds = datasets.load_dataset(str(tmp_path / "packed-jsonl"))
    batch = collate([ds["train"][0], ds["train"][1]])
    assert set(batch) == {"input_ids", "labels", "attention_mask", "position_ids"}
    args = TrainingArguments(
        output_dir=str(tmp_path / "run"),
        per_device_train_batch_size=2,
        learning_rate=3e-3,
        max_steps=3,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        seed=0,
    )
    Trainer(
        model=tiny_gpt2(manifest["tokenizer"]["vocab_size"], 4096),
        args=args,
        train_dataset=ds["train"],
        data_collator=collate,
    ).train()


QWEN_CHAT = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def test_sft_trainer_with_the_models_chat_tokens(tmp_path: Path) -> None:
    """A chat model's own tokens: the prompt and completion as one user and one
    assistant turn, which TRL lays out with the tokenizer's chat template (Qwen's
    `<|im_start|>`/`<|im_end|>` here), the loss on the assistant's turn."""
    from test_model_tokenizers import qwen_like
    from transformers import AutoTokenizer, PreTrainedTokenizerFast
    from trl import SFTTrainer

    repo = make_repo(tmp_path)
    history(repo, items=12, versions=3)
    backfill(repo)
    model_dir = tmp_path / "qwen"
    qwen_like(model_dir / "tokenizer.json")
    chat = PreTrainedTokenizerFast(
        tokenizer_file=str(model_dir / "tokenizer.json"),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
    )
    chat.chat_template = QWEN_CHAT
    chat.save_pretrained(str(model_dir))
    assert cli("tokenizer", "use", model_dir, "--repo", repo.path).exit_code == 0
    out = tmp_path / "out-chat"
    assert cli("export", out, "--repo", repo.path).exit_code == 0
    ds = datasets.load_dataset(str(out))["train"].select_columns(["prompt", "completion"])
    turns = ds.map(  # the one line the README shows
        lambda r: {
            "prompt": [{"role": "user", "content": r["prompt"]}],
            "completion": [{"role": "assistant", "content": r["completion"]}],
        }
    )
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    shown = tokenizer.apply_chat_template(
        turns[0]["prompt"] + turns[0]["completion"], tokenize=False
    )
    assert shown.startswith("<|im_start|>user\n## file ") and "<|im_start|>assistant\n" in shown
    trainer = SFTTrainer(
        model=tiny_gpt2(len(tokenizer), 2048),
        args=sft_config(tmp_path, batch=4, steps=30),
        train_dataset=turns,
        eval_dataset=turns,
        processing_class=tokenizer,
    )
    before = trainer.evaluate()["eval_loss"]
    trainer.train()
    assert trainer.evaluate()["eval_loss"] < 0.7 * before


@pytest.mark.parametrize("template", ["native", "plain"])
def test_an_export_of_edit_targets(export: Path, tmp_path: Path, template: str) -> None:
    """`--target edit`: each record learns the search/replace blocks from its old code
    to its new code; they apply back to the new code, the labels decode to them and
    the end token, and the old code is whole in the context."""
    from indexer.dataset.edits import (
        AIDER_MARKERS,
        NATIVE_MARKERS,
        apply_blocks,
        parse_blocks,
        with_newline,
    )
    from indexer.dataset.tokenizer import Tokenizer

    repo = export.parent / "repo"
    # the native template writes the native tokenizer's own block markers
    markers = NATIVE_MARKERS if template == "native" else AIDER_MARKERS
    out = tmp_path / f"edits-{template}"
    if template == "plain":  # the native tokenizer has an end token, so plain fits it too
        args = ["--template", "plain"]
    else:
        args = []
    result = cli("export", out, "--repo", repo, "--target", "edit", *args)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["target"] == "edit"
    tok = Tokenizer.from_bytes(
        "sentencepiece", (out / "tokenizer.model").read_bytes(), "tokenizer.model"
    )
    end = "<|end|>"
    rows = [r for split in datasets.load_dataset(str(out)).values() for r in split]
    assert {r["change"] for r in rows} == {"added", "modified"}
    for r in rows:
        old = next((s["text"] for s in r["segments"] if s["kind"] == "old"), "")
        blocks = parse_blocks(r["completion"], markers)
        assert blocks is not None
        assert apply_blocks(with_newline(old), blocks) == with_newline(r["target"])
        if r["change"] == "added":
            assert len(blocks) == 1 and blocks[0].search == ""
        else:
            assert all(b.search for b in blocks) and len(r["completion"]) < 3 * len(old) + 200
        learnt = [i for i in r["labels"] if i != -100]
        assert tok.decode(learnt) == r["completion"] + end
    # the item export is as it was: its own cache, the same bytes
    again = tmp_path / "items"
    assert cli("export", again, "--repo", repo).exit_code == 0
    assert (again / "train.jsonl").read_bytes() == (export / "train.jsonl").read_bytes()
