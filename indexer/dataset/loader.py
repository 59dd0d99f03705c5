"""A torch `Dataset` over one split of an export, and `collate` to batch it.

The only module that imports torch. Any of the three formats loads into the same
shape: each token column flat, end to end, in one tensor, plus offsets (a pt export is
memory-mapped as saved; parquet reads only the token columns, without a copy; jsonl
is parsed once into compact buffers). Items are the unpadded token tensors; `collate`
pads a batch. Labels are aligned with `input_ids` (-100 on context), the Hugging Face
convention: a causal model shifts them by one itself.
"""

from __future__ import annotations

import bisect
import json
import warnings
from array import array
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from indexer.dataset.export import FORMATS, MANIFEST, PT_FORMAT, TOKEN_KEYS, split_files
from indexer.errors import IndexerError

IGNORE_INDEX = -100  # the label of a position that is not scored, as torch's losses expect
# The token columns: a packed export (`export.pack`) has position_ids too.
_TOKENS = (*TOKEN_KEYS, "position_ids")


class ExportDataset(Dataset):
    """The examples of one split of an export directory (its one file or its shards),
    or of one split file."""

    def __init__(self, path: Path | str, split: str = "train") -> None:
        self.files = _split_files(Path(path), split)
        loaders = {".pt": _load_pt, ".parquet": _load_parquet, ".jsonl": _load_jsonl}
        parts = [loaders[file.suffix](file) for file in self.files]
        if len(parts) == 1:
            self._tokens, self._offsets, meta = parts[0]
            self._metas, self._starts = [meta], [0]
        else:  # shards end to end
            self._tokens = {key: torch.cat([p[0][key] for p in parts]) for key in parts[0][0]}
            offsets = [torch.zeros(1, dtype=torch.long)]
            self._starts, tokens, examples = [], 0, 0  # where each shard begins
            for _tokens, own, _meta in parts:
                self._starts.append(examples)
                offsets.append(own[1:].long() + tokens)
                tokens += int(own[-1])
                examples += len(own) - 1
            self._offsets = torch.cat(offsets)
            self._metas = [p[2] for p in parts]
        self.file = self.files[0]

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        start, end = self._span(index)
        return {key: tokens[start:end].long() for key, tokens in self._tokens.items()}

    def meta(self, index: int) -> dict[str, Any]:
        """The example's other fields (id, commit, path, segments, target, ...)."""
        self._span(index)
        index %= len(self)
        shard = bisect.bisect_right(self._starts, index) - 1
        return self._metas[shard](index - self._starts[shard])

    def _span(self, index: int) -> tuple[int, int]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} examples")
        index %= len(self)
        return int(self._offsets[index]), int(self._offsets[index + 1])


def collate(
    batch: Sequence[Mapping[str, Any]], pad_id: int = 0, max_len: int | None = None
) -> dict[str, torch.Tensor]:
    """Right-pad a batch to its longest example: `input_ids` with `pad_id`, `labels`
    with -100, `attention_mask` with 0. Examples are never truncated (a cut target
    would teach the model to stop mid-item): one longer than `max_len` is an error.
    An example's ids may be tensors (`ExportDataset`, `.with_format("torch")`) or
    lists (a `datasets` split as `load_dataset` gives it); other columns are ignored."""
    if not batch:
        raise ValueError("cannot collate an empty batch")
    longest = max(len(example["input_ids"]) for example in batch)
    if max_len is not None and longest > max_len:
        raise ValueError(
            f"an example has {longest} tokens, more than max_len={max_len}; "
            "examples are never truncated, export with a smaller token budget instead"
        )
    shape = (len(batch), longest)
    out = {
        "input_ids": torch.full(shape, pad_id, dtype=torch.long),
        "labels": torch.full(shape, IGNORE_INDEX, dtype=torch.long),
        "attention_mask": torch.zeros(shape, dtype=torch.long),
    }
    if "position_ids" in batch[0]:  # a packed export's
        out["position_ids"] = torch.zeros(shape, dtype=torch.long)
    for row, example in enumerate(batch):
        n = len(example["input_ids"])
        for key, padded in out.items():
            padded[row, :n] = torch.as_tensor(example[key], dtype=torch.long)
    return out


def _split_files(path: Path, split: str) -> list[Path]:
    if path.is_file():
        if path.suffix not in FORMATS.values():
            raise IndexerError(
                f"{path} is not an export file", hint="give a .pt, .parquet or .jsonl"
            )
        return [path]
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise IndexerError(
            f"{path} holds no export (no readable {MANIFEST})",
            hint="give the OUT folder of `commit-indexer export`",
        ) from None
    names = split_files(manifest.get("files", {}), split, manifest["format"])
    files = [path / name for name in names]
    if not files or not all(file.is_file() for file in files):
        raise IndexerError(
            f"{path} has no split {split!r}", hint=f"its splits: {', '.join(manifest['counts'])}"
        )
    return files


def _load_pt(file: Path) -> tuple[dict[str, torch.Tensor], torch.Tensor, Any]:
    # mmap: the tokens stay on disk until read; weights_only: no code runs on load.
    data = torch.load(file, mmap=True, weights_only=True)
    if not isinstance(data, dict) or data.get("format") != PT_FORMAT:
        raise IndexerError(f"{file} is not a commit-indexer pt export", hint="export it again")
    meta = _PtMeta(data["meta"], data["meta_offsets"])
    return {key: data[key] for key in _TOKENS if key in data}, data["offsets"], meta


# The meta readers are small classes, not closures, so that a dataset pickles into
# DataLoader workers started with "spawn" (the default on macOS).
class _PtMeta:
    def __init__(self, meta: torch.Tensor, offsets: torch.Tensor) -> None:
        self.meta, self.offsets = meta, offsets

    def __call__(self, index: int) -> dict[str, Any]:
        start, end = int(self.offsets[index]), int(self.offsets[index + 1])
        return json.loads(bytes(self.meta[start:end].tolist()))


def _load_parquet(file: Path) -> tuple[dict[str, torch.Tensor], torch.Tensor, Any]:
    import pyarrow.parquet as pq

    columns = [key for key in _TOKENS if key in pq.read_schema(file).names]
    table = pq.read_table(file, columns=columns)
    tokens, offsets = {}, None
    for key in columns:
        column = table.column(key).combine_chunks()
        tokens[key] = _arrow_tensor(column.flatten())
        own = _arrow_tensor(column.offsets).long()
        # An empty array may have no offsets at all; a sliced one starts past 0.
        own = own - own[0] if len(own) else torch.zeros(1, dtype=torch.long)
        if offsets is None:
            offsets = own
        elif not torch.equal(offsets, own):
            raise IndexerError(f"{file}: token columns differ in length", hint="export it again")
    return tokens, offsets, _ParquetMeta(file)


class _ParquetMeta:
    def __init__(self, file: Path) -> None:
        self.file, self.table = file, None

    def __call__(self, index: int) -> dict[str, Any]:
        import pyarrow.parquet as pq

        if self.table is None:  # the text columns are read on the first call only
            names = [name for name in pq.read_schema(self.file).names if name not in _TOKENS]
            self.table = pq.read_table(self.file, columns=names)
        return {key: value[0] for key, value in self.table.slice(index, 1).to_pydict().items()}


def _arrow_tensor(values: Any) -> torch.Tensor:
    """A tensor over an Arrow integer array's memory, without a copy."""
    import pyarrow as pa

    dtypes = {pa.int8(): torch.int8, pa.int16(): torch.int16, pa.int32(): torch.int32}
    dtypes |= {pa.int64(): torch.int64, pa.uint8(): torch.uint8}
    dtype = dtypes[values.type]
    if values.null_count:
        raise IndexerError("a token column holds nulls", hint="export it again")
    if len(values) == 0:
        return torch.empty(0, dtype=dtype)
    with warnings.catch_warnings():
        # Arrow buffers are read-only and torch warns about that; nothing here writes.
        warnings.simplefilter("ignore", UserWarning)
        return torch.frombuffer(
            values.buffers()[1],
            dtype=dtype,
            count=len(values),
            offset=values.offset * dtype.itemsize,
        )


def _load_jsonl(file: Path) -> tuple[dict[str, torch.Tensor], torch.Tensor, Any]:
    buffers = {"input_ids": array("i"), "labels": array("i"), "attention_mask": array("b")}
    offsets, line_starts = array("q", [0]), array("q", [0])
    with open(file, "rb") as f:
        for line in f:
            record = json.loads(line)
            if "position_ids" in record and "position_ids" not in buffers:
                buffers["position_ids"] = array("i")
            for key, buffer in buffers.items():
                buffer.extend(record[key])
            offsets.append(len(buffers["input_ids"]))
            line_starts.append(line_starts[-1] + len(line))

    tokens = {key: _array_tensor(buffer) for key, buffer in buffers.items()}
    return tokens, _array_tensor(offsets), _JsonlMeta(file, line_starts)


class _JsonlMeta:
    def __init__(self, file: Path, line_starts: array) -> None:
        self.file, self.line_starts = file, line_starts

    def __call__(self, index: int) -> dict[str, Any]:
        start, end = self.line_starts[index], self.line_starts[index + 1]
        with open(self.file, "rb") as f:
            f.seek(start)
            record = json.loads(f.read(end - start))
        return {key: value for key, value in record.items() if key not in _TOKENS}


def _array_tensor(buffer: array) -> torch.Tensor:
    dtype = {"i": torch.int32, "b": torch.int8, "q": torch.int64}[buffer.typecode]
    return torch.frombuffer(buffer, dtype=dtype) if len(buffer) else torch.empty(0, dtype=dtype)
