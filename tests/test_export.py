"""Export: stable splits, byte-identical files, the manifest, refusals, streaming."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from indexer.dataset.export import (
    RECORD_KEYS,
    TOKEN_KEYS,
    split_of,
    time_splits,
    write_export,
)
from indexer.errors import IndexerError

FORMATS = ("jsonl", "parquet", "pt")
EXTRA = {
    "at": "0" * 40,
    "settings": {"budget": 512, "split": "hash"},
    "skips": {"too_long": 2},
    "tokenizer": {"name": "test", "sha256": "f" * 64},
}


def fake_commit(i: int) -> str:
    return hashlib.sha1(str(i).encode()).hexdigest()


def make_record(
    commit: str, index: int, *, split: str | None = None, n_ctx: int = 6, n_tgt: int = 4
) -> dict[str, Any]:
    """A record as the store's side builds them, with awkward text and token ids big
    enough not to be small cached Python ints."""
    rng = random.Random(f"{commit}/{index}")
    context = [rng.randrange(3, 30_000) for _ in range(n_ctx)]
    target = [rng.randrange(3, 30_000) for _ in range(n_tgt)]
    path, qualname = f"src/m{index % 7}.rs", f"m{index % 7}::item_{index}"
    record = {
        "id": hashlib.sha256(f"{commit}{path}fn{qualname}".encode()).hexdigest()[:16],
        "repo": "demo",
        "commit": commit,
        "parent": None if index == 0 else fake_commit(index - 1),
        "date": 1_704_067_200 + 3600 * index,
        "path": path,
        "kind": "fn",
        "name": f"item_{index}",
        "qualname": qualname,
        "change": "added" if index % 2 else "modified",
        "split": split or split_of(commit),
        "segments": [
            {"kind": "path", "text": path},
            {"kind": "msg", "text": 'Gère "é" —\ttabs, ✓ and 🦀\n'},
        ],
        "target": f"fn item_{index}() -> u8 {{\n    {index % 256}\n}}\n",
        "text": f"{path}\nfn item_{index}() -> u8 {{\n    {index % 256}\n}}\n",
        "prompt": f"{path}\n",
        "completion": f"fn item_{index}() -> u8 {{\n    {index % 256}\n}}\n",
        "input_ids": context + target,
        "labels": [-100] * n_ctx + target,
        "attention_mask": [1] * (n_ctx + n_tgt),
        "n_tokens": n_ctx + n_tgt,
    }
    assert tuple(record) == RECORD_KEYS
    return record


def sample_records(n_commits: int = 60, per_commit: int = 3) -> Iterator[dict[str, Any]]:
    for c in range(n_commits):
        for i in range(per_commit):
            yield make_record(fake_commit(c), c * per_commit + i)


def file_hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def read_jsonl_splits(folder: Path) -> dict[str, str]:
    """id -> split, from the files the records landed in."""
    found = {}
    for file in folder.glob("*.jsonl"):
        for line in file.read_text(encoding="utf-8").splitlines():
            found[json.loads(line)["id"]] = file.stem
    return found


def test_split_of_is_stable_and_close_to_the_ratios() -> None:
    commits = [fake_commit(i) for i in range(10_000)]
    counts = Counter(split_of(c) for c in commits)
    assert 8_850 < counts["train"] < 9_150
    assert 420 < counts["validation"] < 580
    assert 420 < counts["test"] < 580
    # Pinned: a change to the hash would silently move examples between splits.
    pinned = [split_of(fake_commit(i)) for i in range(7)]
    assert pinned == ["train", "train", "train", "validation", "test", "train", "validation"]
    assert split_of("a" * 40, (("a", 0.5), ("b", 0.5))) == split_of(
        "a" * 40, (("a", 0.5), ("b", 0.5))
    )


@pytest.mark.parametrize("ratios", [(), (("a", 0.5), ("b", 0.4)), (("a", 1.2), ("b", -0.2))])
def test_split_of_refuses_bad_ratios(ratios: Any) -> None:
    with pytest.raises(ValueError):
        split_of("a" * 40, ratios)


def test_time_splits_oldest_train_newest_test_ties_by_oid() -> None:
    dates = [(fake_commit(i), 1000 + i) for i in range(18)]
    dates += [("b" * 40, 5000), ("a" * 40, 5000)]  # same date: "a…" sorts first
    splits = time_splits(reversed(dates))
    assert [splits[c] for c, _ in dates[:18]] == ["train"] * 18
    assert splits["a" * 40] == "validation"
    assert splits["b" * 40] == "test"
    assert time_splits([]) == {}


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_twice_gives_identical_bytes(tmp_path: Path, fmt: str) -> None:
    first = write_export(tmp_path / "a", sample_records(), fmt, EXTRA, row_group_size=50)
    second = write_export(tmp_path / "b", sample_records(), fmt, EXTRA, row_group_size=50)
    assert first == second
    assert file_hashes(tmp_path / "a") == file_hashes(tmp_path / "b")
    # Again into the same folder: it replaces the export with the same bytes.
    write_export(tmp_path / "a", sample_records(), fmt, EXTRA, row_group_size=50)
    assert file_hashes(tmp_path / "a") == file_hashes(tmp_path / "b")


def test_export_is_identical_across_processes(tmp_path: Path) -> None:
    # Nothing process-specific (ids, addresses, clocks) may reach the files.
    script = (
        "import sys; sys.path.insert(0, sys.argv[2])\n"
        "from test_export import EXTRA, FORMATS, sample_records\n"
        "from indexer.dataset.export import write_export\n"
        "for fmt in FORMATS:\n"
        "    write_export(f'{sys.argv[1]}/{fmt}', sample_records(), fmt, EXTRA)\n"
    )
    there = tmp_path / "subprocess"
    args = [sys.executable, "-W", "ignore", "-c", script, str(there), str(Path(__file__).parent)]
    subprocess.run(args, check=True)
    for fmt in FORMATS:
        write_export(tmp_path / fmt, sample_records(), fmt, EXTRA)
        assert file_hashes(tmp_path / fmt) == file_hashes(there / fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_manifest_counts_tokens_and_hashes(tmp_path: Path, fmt: str) -> None:
    records = list(sample_records())
    manifest = write_export(tmp_path, iter(records), fmt, EXTRA)
    text = (tmp_path / "manifest.json").read_text(encoding="utf-8")
    data = json.loads(text)
    assert text == json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert data == manifest.to_dict()
    assert data["format"] == fmt
    assert data["counts"] == {
        s: sum(r["split"] == s for r in records) for s in ("train", "validation", "test")
    }
    assert sum(data["counts"].values()) == len(records)
    assert data["tokens"] == {
        s: sum(r["n_tokens"] for r in records if r["split"] == s)
        for s in ("train", "validation", "test")
    }
    assert data["files"] == {
        name: digest for name, digest in file_hashes(tmp_path).items() if name != "manifest.json"
    }
    assert set(data["files"]) == {f"{s}.{fmt}" for s in ("train", "validation", "test")}
    for key, value in EXTRA.items():
        assert data[key] == value


def test_adding_commits_moves_no_example_and_no_commit_spans_splits(tmp_path: Path) -> None:
    write_export(tmp_path / "old", sample_records(40), "jsonl", EXTRA)
    write_export(tmp_path / "new", sample_records(80), "jsonl", EXTRA)
    old, new = read_jsonl_splits(tmp_path / "old"), read_jsonl_splits(tmp_path / "new")
    assert len(old) == 120 and len(new) == 240
    assert {i: new[i] for i in old} == old
    by_commit: dict[str, set[str]] = {}
    for record in sample_records(80):
        by_commit.setdefault(record["commit"], set()).add(new[record["id"]])
    assert all(len(splits) == 1 for splits in by_commit.values())
    assert {s for splits in by_commit.values() for s in splits} == {"train", "validation", "test"}


def test_refuses_a_folder_that_holds_something_else(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(IndexerError) as caught:
        write_export(tmp_path, sample_records(2), "jsonl", EXTRA)
    assert "not empty" in caught.value.message and caught.value.hint
    (tmp_path / "manifest.json").write_text('{"someone": "else"}')
    with pytest.raises(IndexerError):
        write_export(tmp_path, sample_records(2), "jsonl", EXTRA)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", "notes.txt"]
    with pytest.raises(IndexerError, match="not a directory"):
        write_export(tmp_path / "notes.txt", sample_records(2), "jsonl", EXTRA)
    with pytest.raises(IndexerError, match="unknown export format"):
        write_export(tmp_path / "new", sample_records(2), "csv", EXTRA)


def test_replacing_an_export_removes_its_old_files_only(tmp_path: Path) -> None:
    write_export(tmp_path, sample_records(5), "parquet", EXTRA)
    (tmp_path / "README.md").write_text("the user's own file")
    manifest = write_export(tmp_path, sample_records(5), "jsonl", EXTRA)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(["README.md", "manifest.json", *manifest.files])


def test_a_bad_record_leaves_no_temporary_files(tmp_path: Path) -> None:
    def records() -> Iterator[dict[str, Any]]:
        yield from sample_records(3)
        yield make_record(fake_commit(0), 0, split="holdout")

    with pytest.raises(ValueError, match="holdout"):
        write_export(tmp_path, records(), "pt", EXTRA)
    assert list(tmp_path.iterdir()) == []
    bad = make_record(fake_commit(0), 0)
    bad["labels"] = bad["labels"][:-1]
    with pytest.raises(ValueError, match="n_tokens"):
        write_export(tmp_path, iter([bad]), "jsonl", EXTRA)
    reordered = dict(reversed(make_record(fake_commit(0), 0).items()))
    with pytest.raises(ValueError, match="keys"):
        write_export(tmp_path, iter([reordered]), "jsonl", EXTRA)
    with pytest.raises(ValueError, match="files"):
        write_export(tmp_path, sample_records(1), "jsonl", {"files": {}})


def test_progress_counts_records(tmp_path: Path) -> None:
    seen: list[int] = []
    write_export(tmp_path, sample_records(4), "jsonl", EXTRA, on_progress=seen.append)
    assert seen == list(range(1, 13))


def test_pt_stores_tokens_in_the_smallest_dtype(tmp_path: Path) -> None:
    import torch

    small = make_record(fake_commit(0), 0, split="train")
    small["input_ids"] = [5, 6, 7, 8, 9, 10, 11, 12, 13, 14]
    small["labels"] = [-100] * 6 + [11, 12, 13, 14]
    write_export(tmp_path / "small", iter([small]), "pt", EXTRA)
    write_export(
        tmp_path / "big", iter([make_record(fake_commit(0), 0, split="train")]), "pt", EXTRA
    )
    data = torch.load(tmp_path / "small" / "train.pt", weights_only=True)
    assert (data["input_ids"].dtype, data["labels"].dtype) == (torch.uint8, torch.int8)
    assert data["attention_mask"].dtype == torch.uint8
    data = torch.load(tmp_path / "big" / "train.pt", weights_only=True)
    assert (data["input_ids"].dtype, data["labels"].dtype) == (torch.int16, torch.int16)
    empty = torch.load(tmp_path / "big" / "validation.pt", weights_only=True)
    assert empty["offsets"].tolist() == [0] and empty["input_ids"].numel() == 0


def test_export_module_imports_neither_torch_nor_pyarrow() -> None:
    code = (
        "import sys, indexer.dataset.export; print(sorted({'torch', 'pyarrow'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "[]"


def small_records(n: int, n_tokens: int = 40) -> Iterator[dict[str, Any]]:
    """Cheap records: one template, fresh token lists of ints too big to be cached."""
    template = make_record(fake_commit(0), 0, n_ctx=n_tokens - 10, n_tgt=10)
    for i in range(n):
        record = dict(template)
        commit = f"{i // 4:040x}"
        record.update(id=f"{i:016x}", commit=commit, split=split_of(commit))
        record["input_ids"] = list(range(1000 + i, 1000 + i + n_tokens))
        record["labels"] = [-100] * (n_tokens - 10) + record["input_ids"][-10:]
        record["attention_mask"] = [1] * n_tokens
        yield record


def traced_peak(run: Callable[[], object]) -> int:
    """Peak bytes of Python allocations during `run` (tracemalloc does not see pyarrow's
    or torch's own allocators; per-record Python objects are what would pile up)."""
    import pyarrow.parquet  # noqa: F401 - imported first: importing them is not the export's memory
    import torch  # noqa: F401

    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_pt_export_memory_is_its_token_buffers(tmp_path: Path) -> None:
    n, n_tokens = 20_000, 40
    meta_bytes = sum(
        len(json.dumps({k: v for k, v in r.items() if k not in TOKEN_KEYS}).encode())
        for r in small_records(n, n_tokens)
    )
    peak = traced_peak(lambda: write_export(tmp_path, small_records(n, n_tokens), "pt", EXTRA))
    # What it must hold: 4 + 4 + 1 bytes a token and the metadata text, plus slack for
    # the buffers' growth; keeping lists of Python ints would take 5 to 10 times more.
    assert peak < 1.5 * (9 * n * n_tokens + meta_bytes)


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_jsonl_and_parquet_exports_hold_one_row_group_at_most(tmp_path: Path, fmt: str) -> None:
    peak = traced_peak(
        lambda: write_export(tmp_path, small_records(5_000), fmt, EXTRA, row_group_size=100)
    )
    # The records as Python objects take ~20 MB; a row group of 100 per split ~1 MB.
    assert peak < 3_000_000


def test_a_crafted_manifest_deletes_nothing_outside_the_folder(tmp_path: Path) -> None:
    out, victim = tmp_path / "out", tmp_path / "victim.jsonl"
    write_export(out, sample_records(2), "jsonl", EXTRA)
    victim.write_text("keep me")
    (tmp_path / "abs.parquet").write_text("keep me too")
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["counts"]["../victim"] = 1
    manifest["counts"][str(tmp_path / "abs")] = 1
    manifest["files"]["../victim.jsonl"] = "0" * 64
    manifest["files"][str(tmp_path / "abs.parquet")] = "0" * 64
    (out / "manifest.json").write_text(json.dumps(manifest))
    write_export(out, sample_records(2), "jsonl", EXTRA)
    assert victim.read_text() == "keep me"
    assert (tmp_path / "abs.parquet").read_text() == "keep me too"


def test_an_export_killed_at_any_step_is_finished_by_a_rerun(tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    write_export(clean, sample_records(6), "parquet", EXTRA)
    # killed while writing the first export: its temporary files and journal
    first = tmp_path / "first"
    first.mkdir()
    (first / ".train.parquet.tmp").write_bytes(b"half")
    (first / ".commit-indexer-export").write_text("commit-indexer.export/1\n")
    write_export(first, sample_records(6), "parquet", EXTRA)
    assert file_hashes(first) == file_hashes(clean)
    # killed while replacing an export: old manifest gone, some files new, some old
    again = tmp_path / "again"
    write_export(again, sample_records(3), "parquet", EXTRA)
    (again / "manifest.json").unlink()
    (again / ".commit-indexer-export").write_text("commit-indexer.export/1\n")
    (again / ".validation.parquet.tmp").write_bytes(b"half")
    write_export(again, sample_records(6), "parquet", EXTRA)
    assert file_hashes(again) == file_hashes(clean)


def test_a_manifest_always_pins_the_files_beside_it(tmp_path: Path) -> None:
    # The old manifest goes before the first file is replaced: a kill in between
    # leaves no manifest that names files which are not the ones there.
    out = tmp_path / "out"
    write_export(out, sample_records(3), "jsonl", EXTRA)
    seen: list[bool] = []

    def records() -> Iterator[dict[str, Any]]:
        yield from sample_records(6)
        seen.append((out / "manifest.json").exists())

    import indexer.dataset.export as export

    real_replace = export.os.replace
    states: list[tuple[str, bool]] = []

    def watching_replace(src: Any, dst: Any) -> None:
        states.append((Path(dst).name, (out / "manifest.json").exists()))
        real_replace(src, dst)

    export.os.replace = watching_replace
    try:
        write_export(out, records(), "jsonl", EXTRA)
    finally:
        export.os.replace = real_replace
    assert seen == [True]  # while records stream, the old export stands whole
    assert all(not present for name, present in states), states


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_a_large_split_is_cut_into_shards_named_as_the_hub_names_them(
    tmp_path: Path, fmt: str
) -> None:
    from indexer.dataset.loader import ExportDataset

    out = tmp_path / "out"
    whole = write_export(tmp_path / "whole", sample_records(), fmt, EXTRA, row_group_size=20)
    cut = write_export(out, sample_records(), fmt, EXTRA, row_group_size=20, shard_bytes=8_000)
    assert cut.counts == whole.counts
    for split, size in whole.num_bytes.items():  # Arrow's bitmaps round per batch
        assert abs(cut.num_bytes[split] - size) <= 8 * n_files(cut, split), split
    ext = f".{fmt}"
    train = sorted(name for name in cut.files if name.startswith("train"))
    n = len(train)
    assert n > 2 and train == [f"train-{i:05d}-of-{n:05d}{ext}" for i in range(n)]
    assert all((out / name).stat().st_size < 3 * 8_000 + 40_000 for name in train)
    a, b = ExportDataset(tmp_path / "whole"), ExportDataset(out)
    assert len(a) == len(b) == cut.counts["train"]
    for i in (0, 1, len(a) // 2, len(a) - 1):
        assert a.meta(i) == b.meta(i) and all(torch_equal(a[i][k], b[i][k]) for k in a[i])
    again = write_export(out, sample_records(), fmt, EXTRA, row_group_size=20, shard_bytes=8_000)
    assert again == cut  # the same bytes, cut at the same places
    write_export(out, sample_records(), fmt, EXTRA, row_group_size=20)  # unsharded again
    assert sorted(p.name for p in out.glob("train*")) == [f"train{ext}"]  # the shards went


def n_files(manifest: Any, split: str) -> int:
    return sum(1 for name in manifest.files if name.startswith(split))


def torch_equal(a: Any, b: Any) -> bool:
    import torch

    return torch.equal(a, b)


@pytest.mark.parametrize("packed", [False, True])
def test_the_arrow_size_is_what_pyarrow_says(packed: bool) -> None:
    """`num_bytes` is reckoned from Arrow's layout: equal to `RecordBatch.nbytes`,
    nulls, empty texts and lists, and non-ASCII text included."""
    import pyarrow as pa

    from indexer.dataset.export import COLUMNS, PACKED_KEYS, arrow_bytes, pack, parquet_schema

    rows = list(sample_records(12, 3))
    rows[0]["parent"] = None
    rows[1].update(target="", segments=[], text="é中🦀", prompt="")
    rows[2]["segments"] = [{"kind": "msg", "text": ""}]
    if packed:
        rows = list(pack(rows, 200))
    keys = PACKED_KEYS if packed else RECORD_KEYS
    schema = parquet_schema(keys)
    for group in (rows[:1], rows[:5], rows[:9], rows):
        assert len({r["parent"] is None for r in group if "parent" in r}) in (0, 1, 2)
        built = pa.RecordBatch.from_pylist(group, schema=schema).nbytes
        reckoned = sum(arrow_bytes(kind, [r[name] for r in group]) for name, kind in COLUMNS[keys])
        assert reckoned == built, len(group)
