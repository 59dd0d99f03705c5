"""Export end to end: a real backfill, then files a trainer reads; determinism."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import torch
from gitrepo import Repo, cli, dump_store, make_repo

from indexer.dataset.budget import IGNORE, encode_example, fit, render_text
from indexer.dataset.loader import ExportDataset, collate
from indexer.dataset.tokenizer import Tokenizer
from indexer.demo import build_demo_repo
from indexer.shapes import Example, Segment
from indexer.store import examples as example_store
from indexer.store import open_target


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_export_twice_is_byte_identical_in_every_format(tmp_path: Path) -> None:
    demo = build_demo_repo(tmp_path / "demo")
    assert cli("backfill", "--repo", demo.path).exit_code == 0
    for fmt in ("jsonl", "parquet", "pt"):
        first, second = tmp_path / f"{fmt}-1", tmp_path / f"{fmt}-2"
        for out in (first, second):
            result = cli("export", out, "--format", fmt, "--repo", demo.path)
            assert result.exit_code == 0, result.output
        assert _hashes(first) == _hashes(second)
        manifest = json.loads((first / "manifest.json").read_text())
        assert sum(manifest["counts"].values()) > 50  # of the demo's 41 commits, curated
        assert manifest["tokenizer"]["name"] == "native"


def test_incremental_store_exports_what_a_fresh_backfill_exports(
    tmp_path: Path, new_store: Callable[[str], str]
) -> None:
    repo = make_repo(tmp_path)
    inc = new_store("inc")
    lib = "use crate::config::Config;\n\npub fn port(c: &Config) -> u16 {\n    c.port\n}\n"
    versions = [
        {"src/config.rs": "pub struct Config {\n    pub port: u16,\n}\n"},
        {"src/lib.rs": lib},
        {"src/lib.rs": lib.replace("c.port\n", "c.port + 1\n")},
        {"src/config.rs": "pub struct Config {\n    pub port: u16,\n    pub host: String,\n}\n"},
    ]
    for n, files in enumerate(versions):
        repo.commit(files, f"step {n}")
        assert cli("sync", "--repo", repo.path, "--db", inc).exit_code == 0  # as the hook does
    full = new_store("full")
    assert cli("backfill", "--repo", repo.path, "--db", full).exit_code == 0
    for url, out in ((inc, tmp_path / "a"), (full, tmp_path / "b")):
        result = cli("export", out, "--repo", repo.path, "--db", url)
        assert result.exit_code == 0, result.output
    assert _hashes(tmp_path / "a") == _hashes(tmp_path / "b")


def test_a_postgresql_store_stores_and_exports_what_a_sqlite_store_does(
    tmp_path: Path, pg_url: str
) -> None:
    demo = build_demo_repo(tmp_path / "demo")
    lite = f"sqlite:///{tmp_path / 'lite.db'}"
    for url in (lite, pg_url):
        result = cli("backfill", "--repo", demo.path, "--db", url)
        assert result.exit_code == 0, result.output
    assert dump_store(pg_url) == dump_store(lite)
    for fmt in ("jsonl", "parquet", "pt"):
        outs = [tmp_path / f"{fmt}-{n}" for n in range(2)]
        for url, out in zip((lite, pg_url), outs, strict=True):
            result = cli("export", out, "--format", fmt, "--repo", demo.path, "--db", url)
            assert result.exit_code == 0, result.output
        assert _hashes(outs[0]) == _hashes(outs[1])


def test_records_decode_to_their_text_and_label_only_the_target(tmp_path: Path) -> None:
    demo = build_demo_repo(tmp_path / "demo")
    assert cli("backfill", "--repo", demo.path).exit_code == 0
    out = tmp_path / "out"
    assert cli("export", out, "--repo", demo.path, "--max-tokens", "512").exit_code == 0
    target = open_target(str(demo.path))
    with target.store.connect() as conn:
        stored = example_store.repo_tokenizer(conn, target.repo_id)
    target.close()
    tokenizer = Tokenizer.from_bytes(stored.kind, stored.data, stored.name)
    records = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    assert records
    for record in records[:40]:
        ids, labels = record["input_ids"], record["labels"]
        assert len(ids) == len(labels) == len(record["attention_mask"]) == record["n_tokens"]
        assert record["n_tokens"] <= 512
        text = tokenizer.decode(ids)
        assert text.endswith(record["target"] + "<|end|>")
        target_ids = [i for i, label in zip(ids, labels, strict=True) if label != IGNORE]
        assert tokenizer.decode(target_ids) == record["target"] + "<|end|>"
        for segment in record["segments"]:
            assert segment["text"] in text


def test_adding_commits_moves_no_example_between_splits(tmp_path: Path) -> None:
    demo = build_demo_repo(tmp_path / "demo")
    repo = Repo(demo.path, clock=100)
    assert cli("backfill", "--repo", demo.path).exit_code == 0
    assert cli("export", tmp_path / "before", "--repo", demo.path).exit_code == 0
    repo.commit({"src/extra.rs": "pub fn extra() -> u8 {\n    1\n}\n"}, "more")
    assert cli("sync", "--repo", demo.path).exit_code == 0
    assert cli("export", tmp_path / "after", "--repo", demo.path).exit_code == 0

    def splits(folder: Path) -> dict[str, str]:
        found = {}
        for split in ("train", "validation", "test"):
            for line in (folder / f"{split}.jsonl").read_text().splitlines():
                record = json.loads(line)
                found[record["id"]] = record["split"]
        return found

    before, after = splits(tmp_path / "before"), splits(tmp_path / "after")
    assert len(after) == len(before) + 1
    assert all(after[i] == s for i, s in before.items())


def test_export_at_an_old_rev_holds_only_its_commits(tmp_path: Path) -> None:
    demo = build_demo_repo(tmp_path / "demo")
    assert cli("backfill", "--repo", demo.path).exit_code == 0
    assert cli("export", tmp_path / "old", "--at", "v0.1.0", "--repo", demo.path).exit_code == 0
    assert cli("export", tmp_path / "new", "--repo", demo.path).exit_code == 0
    old = json.loads((tmp_path / "old" / "manifest.json").read_text())
    new = json.loads((tmp_path / "new" / "manifest.json").read_text())
    assert 0 < sum(old["counts"].values()) < sum(new["counts"].values())


def test_a_torch_dataloader_reads_the_pt_export(tmp_path: Path) -> None:
    demo = build_demo_repo(tmp_path / "demo")
    assert cli("backfill", "--repo", demo.path).exit_code == 0
    assert cli("export", tmp_path / "pt", "--format", "pt", "--repo", demo.path).exit_code == 0
    dataset = ExportDataset(tmp_path / "pt", split="train")
    loader = torch.utils.data.DataLoader(dataset, batch_size=8, collate_fn=collate)
    batch = next(iter(loader))
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape
    assert batch["input_ids"].shape[0] == 8
    assert (batch["labels"] != IGNORE).any()


def test_a_too_small_budget_drops_context_first_and_never_cuts_the_target() -> None:
    example = Example(
        "0" * 40,
        None,
        "src/a.rs",
        "fn",
        "f",
        "f",
        "modified",
        (
            Segment("path", "src/a.rs"),
            Segment("msg", "Change f"),
            Segment("old", "fn f() {}"),
            Segment(
                "ctx_struct", "/// Doc.\npub struct S {\n    a: u8,\n}", ("pub struct S { .. }",)
            ),
        ),
        "fn f() -> u8 {\n    1\n}",
    )
    from indexer.dataset.tokenizer import train_native

    tokenizer = train_native([example.target * 20, "pub struct S { a: u8 }\n" * 20], 1000)
    encoded = encode_example(example, tokenizer)
    whole = fit(encoded, 2048)
    tight = fit(encoded, whole.n_tokens - 3)
    assert whole.fits_whole and not tight.fits_whole
    assert tight.choices[3] != 0  # the definition went first
    assert tokenizer.decode(tight.input_ids) == render_text(example, tight)
    assert tokenizer.decode(tight.input_ids).endswith(example.target + "<|end|>")


def test_a_tiny_model_lowers_its_target_loss_on_the_demo_export(tmp_path: Path) -> None:
    """The real demo, backfilled and exported, trains: a tiny GRU over the native
    tokenizer's vocabulary, a few dozen CPU steps, loss on target tokens only."""
    demo = build_demo_repo(tmp_path / "demo")
    assert cli("backfill", "--repo", demo.path).exit_code == 0
    result = cli(
        "export", tmp_path / "pt", "--format", "pt", "--max-tokens", "384", "--repo", demo.path
    )
    assert result.exit_code == 0, result.output
    vocab = json.loads((tmp_path / "pt" / "manifest.json").read_text())["tokenizer"]["vocab_size"]
    data = ExportDataset(tmp_path / "pt", split="train")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        embed = torch.nn.Embedding(vocab, 32)
        gru = torch.nn.GRU(32, 64, batch_first=True)
        head = torch.nn.Linear(64, vocab)
        params = [*embed.parameters(), *gru.parameters(), *head.parameters()]

        def loss_of(batch: dict[str, torch.Tensor]) -> torch.Tensor:
            logits = head(gru(embed(batch["input_ids"]))[0])[:, :-1]
            return torch.nn.functional.cross_entropy(
                logits.reshape(-1, vocab), batch["labels"][:, 1:].reshape(-1), ignore_index=IGNORE
            )

        fixed = collate([data[i] for i in range(min(len(data), 24))])
        with torch.no_grad():
            initial = loss_of(fixed).item()
        loader = torch.utils.data.DataLoader(data, batch_size=8, shuffle=True, collate_fn=collate)
        optimizer = torch.optim.Adam(params, lr=1e-2)
        steps = 0
        while steps < 30:
            for batch in loader:
                optimizer.zero_grad()
                loss_of(batch).backward()
                optimizer.step()
                steps += 1
                if steps == 30:
                    break
        with torch.no_grad():
            final = loss_of(fixed).item()
    finally:
        torch.set_num_threads(threads)
    assert final < 0.8 * initial, (initial, final)


def test_the_first_export_says_it_trained_a_tokenizer_and_later_ones_do_not(
    repo: Repo, tmp_path: Path
) -> None:
    repo.commit({"src/lib.rs": "pub struct Opts { pub verbose: bool }\n"}, "Add opts")
    repo.commit({"src/lib.rs": "pub struct Opts { pub verbose: bool, pub n: u8 }\n"}, "Add n")
    assert cli("backfill", "--repo", repo.path).exit_code == 0
    first = cli("export", tmp_path / "one", "--repo", repo.path)
    assert first.exit_code == 0, first.output
    assert "trained the native one on this repo's code" in first.output
    assert "tokenizer use PATH" in first.output
    again = cli("export", tmp_path / "two", "--repo", repo.path)
    assert again.exit_code == 0 and "trained" not in again.output
