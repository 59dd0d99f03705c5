"""The torch dataset over an export: round trips, collate, and a model that learns."""

from __future__ import annotations

import pickle
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from test_export import EXTRA, FORMATS, fake_commit, make_record, sample_records
from torch import nn
from torch.utils.data import DataLoader

from indexer.dataset.export import TOKEN_KEYS, parquet_schema, split_of, write_export
from indexer.dataset.loader import ExportDataset, collate
from indexer.errors import IndexerError


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip(tmp_path: Path, fmt: str) -> None:
    records = list(sample_records())
    write_export(tmp_path, iter(records), fmt, EXTRA, row_group_size=16)
    for split in ("train", "validation", "test"):
        expected = [r for r in records if r["split"] == split]
        data = ExportDataset(tmp_path, split)
        assert len(data) == len(expected) > 0
        for i, record in enumerate(expected):
            item = data[i]
            for key in TOKEN_KEYS:
                assert item[key].dtype == torch.long and item[key].dim() == 1
                assert item[key].tolist() == record[key]
            assert data.meta(i) == {k: v for k, v in record.items() if k not in TOKEN_KEYS}
        assert data[-1]["input_ids"].tolist() == expected[-1]["input_ids"]
        with pytest.raises(IndexError):
            data[len(expected)]


def test_the_three_formats_read_the_same(tmp_path: Path) -> None:
    loaded = []
    for fmt in FORMATS:
        write_export(tmp_path / fmt, sample_records(), fmt, EXTRA)
        data = ExportDataset(tmp_path / fmt)
        loaded.append([{k: v.tolist() for k, v in data[i].items()} for i in range(len(data))])
        # DataLoader workers started with "spawn" get the dataset pickled.
        copy = pickle.loads(pickle.dumps(data))
        assert copy[3]["labels"].tolist() == loaded[-1][3]["labels"]
        assert copy.meta(3) == data.meta(3)
    assert loaded[0] == loaded[1] == loaded[2]
    # A split file can be given directly too.
    assert len(ExportDataset(tmp_path / "pt" / "train.pt")) == len(loaded[0])


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_split_and_wide_token_ids(tmp_path: Path, fmt: str) -> None:
    record = make_record(fake_commit(0), 0, split="train")
    record["input_ids"][-1] = 60_000  # past int16: uint16 in pt
    record["labels"][-1] = 60_000
    write_export(tmp_path, iter([record]), fmt, EXTRA)
    assert ExportDataset(tmp_path)[0]["input_ids"].tolist() == record["input_ids"]
    assert len(ExportDataset(tmp_path, "test")) == 0


def test_missing_export_or_split(tmp_path: Path) -> None:
    with pytest.raises(IndexerError, match="no export") as caught:
        ExportDataset(tmp_path)
    assert caught.value.hint
    write_export(tmp_path, sample_records(2), "jsonl", EXTRA)
    with pytest.raises(IndexerError, match="no split 'dev'") as caught:
        ExportDataset(tmp_path, "dev")
    assert "train" in caught.value.hint


def test_parquet_columns_are_plain_for_load_dataset(tmp_path: Path) -> None:
    # `datasets.load_dataset("parquet", data_files=...)` maps plain Arrow types to its
    # features directly; dictionary, extension or large_* types would need care.
    write_export(tmp_path, sample_records(), "parquet", EXTRA)
    table = pq.read_table(tmp_path / "train.parquet")
    assert table.schema.equals(parquet_schema(), check_metadata=False)
    assert table.num_rows == len(ExportDataset(tmp_path))
    plain = (pa.string(), pa.int64(), pa.list_(pa.int32()), pa.list_(pa.int8()))
    for column in table.schema:
        if column.name == "segments":
            assert column.type == pa.list_(
                pa.struct([("kind", pa.string()), ("text", pa.string())])
            )
        else:
            assert column.type in plain, column
    row = table.slice(0, 1).to_pylist()[0]
    assert isinstance(row["segments"][0], dict) and set(row["segments"][0]) == {"kind", "text"}


def test_collate_pads_right_and_never_truncates() -> None:
    def item(ids: list[int], n_context: int) -> dict[str, torch.Tensor]:
        labels = [-100] * n_context + ids[n_context:]
        return {
            "input_ids": torch.tensor(ids),
            "labels": torch.tensor(labels),
            "attention_mask": torch.ones(len(ids), dtype=torch.long),
        }

    batch = collate([item([5, 6, 7], 1), item([8, 9, 10, 11, 12], 3)], pad_id=1)
    assert batch["input_ids"].tolist() == [[5, 6, 7, 1, 1], [8, 9, 10, 11, 12]]
    assert batch["labels"].tolist() == [[-100, 6, 7, -100, -100], [-100, -100, -100, 11, 12]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert all(t.dtype == torch.long for t in batch.values())
    assert collate([item([5, 6], 1)], max_len=2)["input_ids"].shape == (1, 2)
    with pytest.raises(ValueError, match="never truncated"):
        collate([item([5, 6, 7], 1)], max_len=2)
    with pytest.raises(ValueError):
        collate([])


PAD, SEP, EOS, VOCAB = 0, 1, 2, 50


def reversal_records(n: int) -> list[dict[str, Any]]:
    """Context "a b c", target "c b a <eos>": the target is a function of the context."""
    rng = random.Random(0)
    records = []
    for i in range(n):
        commit = fake_commit(i // 4)
        record = make_record(commit, i, split=split_of(commit))
        context = [rng.randrange(3, VOCAB) for _ in range(rng.randint(3, 5))] + [SEP]
        target = context[-2::-1] + [EOS]
        record["input_ids"] = context + target
        record["labels"] = [-100] * len(context) + target
        record["attention_mask"] = [1] * len(record["input_ids"])
        record["n_tokens"] = len(record["input_ids"])
        records.append(record)
    return records


class TinyModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, 32)
        self.gru = nn.GRU(32, 64, batch_first=True)
        self.out = nn.Linear(64, VOCAB)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.out(self.gru(self.embed(input_ids))[0])


def target_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    # Position t predicts token t + 1; only target tokens (labels != -100) count.
    logits = model(batch["input_ids"])[:, :-1]
    return nn.functional.cross_entropy(
        logits.reshape(-1, VOCAB), batch["labels"][:, 1:].reshape(-1), ignore_index=-100
    )


def test_a_tiny_model_learns_from_a_pt_export(tmp_path: Path) -> None:
    """End to end: export -> ExportDataset -> DataLoader -> training lowers the loss
    on the target tokens. 200 examples and 60 steps: it proves the tokens, labels and
    padding line up, not that the model generalises."""
    write_export(tmp_path, iter(reversal_records(200)), "pt", EXTRA)
    data = ExportDataset(tmp_path, "train")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # faster for a model this small, and reproducible
    try:
        torch.manual_seed(0)
        model = TinyModel()
        assert sum(p.numel() for p in model.parameters()) < 50_000
        everything = collate([data[i] for i in range(len(data))], pad_id=PAD)
        with torch.no_grad():
            initial = target_loss(model, everything).item()
        loader = DataLoader(data, batch_size=32, shuffle=True, collate_fn=collate)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        batches = (batch for _ in range(100) for batch in loader)
        for _, batch in zip(range(60), batches, strict=False):
            optimizer.zero_grad()
            target_loss(model, batch).backward()
            optimizer.step()
        with torch.no_grad():
            final = target_loss(model, everything).item()
    finally:
        torch.set_num_threads(threads)
    assert final < 0.7 * initial, (initial, final)
