"""Writing an export: split files in one format, and a manifest that pins them.

`write_export(out, records, fmt, extra)` streams an iterator of records (dicts with
`RECORD_KEYS`, each already carrying its split) into one file per split, then writes
`manifest.json` with counts, token totals, the sha256 of every file and the caller's
`extra` (tokenizer, settings, skips, the `--at` commit). `split_of` and `time_splits`
decide the splits. This module does not build records (that reads the store), does not
print, and does not import torch or pyarrow until a pt or parquet file is written.

Determinism: the same records in the same order give byte-identical files with the
same library versions. jsonl is plain text; parquet holds no timestamp (its `created_by`
names the pyarrow version); torch.save writes zip entries dated 1980 and an id derived
from the content, and we hand it a file object so the archive's inner name does not
depend on the (temporary) file name.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexer.errors import IndexerError

RECORD_KEYS = (
    "id",
    "repo",
    "commit",
    "parent",
    "date",
    "path",
    "kind",
    "name",
    "qualname",
    "change",
    "split",
    "segments",
    "target",
    "text",
    "prompt",
    "completion",
    "input_ids",
    "labels",
    "attention_mask",
    "n_tokens",
)
TOKEN_KEYS = ("input_ids", "labels", "attention_mask")
# A packed record (`pack`): examples of one split end to end, each keeping its labels;
# `position_ids` start again at 0 with each example (for attention that keeps them
# apart: flash-attention's varlen path in transformers), `examples` are their ids.
PACKED_KEYS = (
    "id",
    "repo",
    "split",
    "examples",
    "input_ids",
    "labels",
    "attention_mask",
    "position_ids",
    "n_tokens",
)
# Hugging Face's names (`datasets.Split`): a DatasetDict's splits are train, validation
# and test.
DEFAULT_RATIOS: tuple[tuple[str, float], ...] = (
    ("train", 0.90),
    ("validation", 0.05),
    ("test", 0.05),
)
FORMATS = {"jsonl": ".jsonl", "parquet": ".parquet", "pt": ".pt"}
MANIFEST = "manifest.json"
CARD = "README.md"
SCHEMA = "commit-indexer.export/1"
# Exists while an export is written into a folder: a rerun after a kill knows the
# folder is ours and finishes the work. The old manifest goes before the first file
# is replaced, so a folder with a manifest always holds the files it pins.
JOURNAL = ".commit-indexer-export"
# The tokenizer's files an export ships beside the splits (`tokenizer.model_files`).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json")
PT_FORMAT = "commit-indexer.pt/1"
ROW_GROUP_SIZE = 1024
_OWN_KEYS = {"schema", "format", "counts", "tokens", "files", "num_bytes"}

assert array("i").itemsize == 4, "token buffers assume a 4-byte C int"


def _check_ratios(ratios: Sequence[tuple[str, float]]) -> None:
    names = [name for name, _ in ratios]
    if not ratios or len(set(names)) != len(names) or any(r < 0 for _, r in ratios):
        raise ValueError(f"split ratios must name distinct splits with ratios >= 0: {ratios}")
    if abs(sum(r for _, r in ratios) - 1.0) > 1e-9:
        raise ValueError(f"split ratios must add up to 1: {ratios}")


def split_of(key: str, ratios: Sequence[tuple[str, float]] = DEFAULT_RATIOS) -> str:
    """The split of a key (a commit id, an item's lineage: `splits.py`), from its
    sha256 alone: it never changes as the history grows, and every example of one
    key lands in the same split."""
    _check_ratios(ratios)
    x = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64
    cumulative = 0.0
    for name, ratio in ratios:
        cumulative += ratio
        if x < cumulative:
            return name
    return ratios[-1][0]  # the float sum of the ratios may fall a hair short of 1


def time_splits(
    dates: Iterable[tuple[str, int]], ratios: Sequence[tuple[str, float]] = DEFAULT_RATIOS
) -> dict[str, str]:
    """Split commits by committer date: the oldest go to the first split (train), the
    newest to the last (test); equal dates are ordered by commit id.

    Unlike `split_of`, this moves commits as new ones arrive (yesterday's newest commit
    becomes training data); that is what a split by time means.
    """
    _check_ratios(ratios)
    ordered = sorted(dict(dates).items(), key=lambda item: (item[1], item[0]))
    n = len(ordered)
    splits: dict[str, str] = {}
    start, cumulative = 0, 0.0
    for i, (name, ratio) in enumerate(ratios):
        cumulative += ratio
        # The 1e-9 keeps 0.9 * 10 == 9 from becoming 8 through float error.
        end = n if i == len(ratios) - 1 else min(n, int(n * cumulative + 1e-9))
        for commit, _ in ordered[start:end]:
            splits[commit] = name
        start = end
    return splits


class _ArrowSize:
    """The bytes the records take in Arrow, as `datasets` holds a split in memory (its
    `num_bytes`), a group of records at a time: what `RecordBatch.nbytes` says of them
    in `parquet_schema`, reckoned from Arrow's layout rather than built (building the
    batches took a third of a jsonl export)."""

    def __init__(self, row_group_size: int, keys: tuple[str, ...]) -> None:
        self.num_bytes = 0
        self._rows: list[Mapping[str, Any]] = []
        self._row_group_size = row_group_size
        self._columns = COLUMNS[keys]

    def add(self, record: Mapping[str, Any]) -> None:
        self._rows.append(record)
        if len(self._rows) >= self._row_group_size:
            self.flush()

    def flush(self) -> None:
        if self._rows:
            self.num_bytes += sum(
                arrow_bytes(kind, [row[name] for row in self._rows]) for name, kind in self._columns
            )
            self._rows = []


class _JsonlWriter:
    """One compact JSON object per line, keys in `RECORD_KEYS` order."""

    def __init__(self, path: Path, row_group_size: int, keys: tuple[str, ...]) -> None:
        self._file = open(path, "w", encoding="utf-8", newline="\n")
        self._size = _ArrowSize(row_group_size, keys)

    def write(self, record: Mapping[str, Any]) -> None:
        self._file.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._size.add(record)

    def size(self) -> int:
        return self._file.tell()

    def close(self) -> None:
        self._file.close()
        self._size.flush()

    @property
    def num_bytes(self) -> int:
        return self._size.num_bytes

    def abort(self) -> None:
        self._file.close()


# The columns' types, in a spelling of our own so that sizing a jsonl export's splits
# (`arrow_bytes`) needs no pyarrow import (a tenth of a second): a type is "string",
# "int64", "int32", "int8", ("list", type) or ("struct", ((name, type), ...)).
_SEGMENT = ("struct", (("kind", "string"), ("text", "string")))
COLUMNS: dict[tuple[str, ...], tuple[tuple[str, Any], ...]] = {
    RECORD_KEYS: (
        *((key, "string") for key in ("id", "repo", "commit", "parent")),
        ("date", "int64"),
        *((key, "string") for key in ("path", "kind", "name", "qualname", "change")),
        ("split", "string"),
        ("segments", ("list", _SEGMENT)),
        *((key, "string") for key in ("target", "text", "prompt", "completion")),
        ("input_ids", ("list", "int32")),
        ("labels", ("list", "int32")),
        ("attention_mask", ("list", "int8")),
        ("n_tokens", "int64"),
    ),
    PACKED_KEYS: (
        *((key, "string") for key in ("id", "repo", "split")),
        ("examples", ("list", "string")),
        ("input_ids", ("list", "int32")),
        ("labels", ("list", "int32")),
        ("attention_mask", ("list", "int8")),
        ("position_ids", ("list", "int32")),
        ("n_tokens", "int64"),
    ),
}
_WIDTHS = {"int64": 8, "int32": 4, "int8": 1}


def parquet_schema(keys: tuple[str, ...] = RECORD_KEYS) -> Any:
    """The parquet columns: plain strings, int64, and lists, so `datasets` (and any
    parquet reader) loads them without custom features; `PACKED_KEYS`' for a packed
    export."""
    import pyarrow as pa

    def arrow(kind: Any) -> Any:
        if isinstance(kind, str):
            return getattr(pa, kind)()
        if kind[0] == "list":
            return pa.list_(arrow(kind[1]))
        return pa.struct([(name, arrow(sub)) for name, sub in kind[1]])

    return pa.schema([(name, arrow(kind)) for name, kind in COLUMNS[keys]])


def arrow_bytes(kind: Any, values: Sequence[Any]) -> int:
    """The bytes of `values` as one Arrow array of type `kind` (`COLUMNS`' spelling):
    a validity bitmap if one is null, 4-byte offsets for strings and lists, then the
    data (strings as UTF-8, list items recursively, fixed-width values at their
    width). What `RecordBatch.nbytes` says; tests/test_export.py holds them equal."""
    n = len(values)
    size = (n + 7) // 8 if any(v is None for v in values) else 0
    present = [v for v in values if v is not None]
    if kind == "string":
        return size + 4 * n + sum(len(v.encode("utf-8", "surrogatepass")) for v in present)
    if isinstance(kind, str):
        return size + n * _WIDTHS[kind]
    if kind[0] == "list":
        item = kind[1]
        if item in _WIDTHS:  # no need to gather the items to count them
            return size + 4 * n + sum(map(len, present)) * _WIDTHS[item]
        return size + 4 * n + arrow_bytes(item, [x for v in present for x in v])
    return size + sum(arrow_bytes(sub, [v[name] for v in present]) for name, sub in kind[1])


class _ParquetWriter:
    """Row groups of `row_group_size` records; only one group is held in memory."""

    def __init__(self, path: Path, row_group_size: int, keys: tuple[str, ...]) -> None:
        import pyarrow.parquet as pq

        self._schema = parquet_schema(keys)
        # Every option that shapes the bytes is spelled out, so a change of pyarrow's
        # defaults shows up as a diff here rather than as a silently different file.
        self._writer = pq.ParquetWriter(
            path,
            self._schema,
            version="2.6",
            compression="zstd",
            compression_level=3,
            use_dictionary=True,
            write_statistics=True,
            data_page_version="1.0",
            store_schema=True,
            write_page_index=False,
            write_page_checksum=False,
        )
        self._rows: list[Mapping[str, Any]] = []
        self._row_group_size = row_group_size
        self.num_bytes = 0
        self._path = path
        self._written = 0

    def write(self, record: Mapping[str, Any]) -> None:
        self._rows.append(record)
        if len(self._rows) >= self._row_group_size:
            self._flush()

    def size(self) -> int:
        """The bytes of the row groups written so far (they change at a flush only)."""
        return self._written

    def _flush(self) -> None:
        import pyarrow as pa

        if self._rows:
            batch = pa.RecordBatch.from_pylist(self._rows, schema=self._schema)
            self._writer.write_batch(batch, row_group_size=self._row_group_size)
            self.num_bytes += batch.nbytes
            self._rows = []
            self._written = self._path.stat().st_size

    def close(self) -> None:
        self._flush()
        self._writer.close()

    def abort(self) -> None:
        self._writer.close()


class _PtWriter:
    """torch.save cannot append, so the tokens of a split gather in flat `array`
    buffers (4 bytes a token, not a Python int and a list slot) and the other fields in
    one byte buffer of JSON lines; `close` saves them as tensors:

    `input_ids`, `labels`, `attention_mask`: all examples end to end, in the smallest
    integer dtype that holds their values; example i is `[offsets[i]:offsets[i + 1]]`.
    `meta`: uint8, UTF-8 JSON lines of the other fields; line i is
    `[meta_offsets[i]:meta_offsets[i + 1]]`.
    """

    def __init__(self, path: Path, row_group_size: int, keys: tuple[str, ...]) -> None:
        self._path = path
        self._tokens = {"input_ids": array("i"), "labels": array("i"), "attention_mask": array("b")}
        if "position_ids" in keys:
            self._tokens["position_ids"] = array("i")
        self._offsets = array("q", [0])
        self._meta = bytearray()
        self._meta_offsets = array("q", [0])

    def write(self, record: Mapping[str, Any]) -> None:
        for key, buffer in self._tokens.items():
            buffer.extend(record[key])
        self._offsets.append(len(self._tokens["input_ids"]))
        meta = {key: value for key, value in record.items() if key not in self._tokens}
        self._meta += json.dumps(meta, ensure_ascii=False, separators=(",", ":")).encode()
        self._meta += b"\n"
        self._meta_offsets.append(len(self._meta))

    def close(self) -> None:
        import torch

        data: dict[str, Any] = {"format": PT_FORMAT}
        for key, buffer in self._tokens.items():
            data[key] = _smallest(torch, _as_tensor(torch, buffer))
        data["offsets"] = _as_tensor(torch, self._offsets)
        data["meta"] = _as_tensor(torch, self._meta)
        data["meta_offsets"] = _as_tensor(torch, self._meta_offsets)
        # A file object, not a path: torch names the archive's inner folder after the
        # file, which here is a temporary name.
        with open(self._path, "wb") as f:
            try:
                torch.save(data, f)
            except RuntimeError as exc:  # torch's zip writer reports a failed write so
                raise OSError(f"torch could not write {self._path.name}: {exc}") from exc

    def abort(self) -> None:
        pass


def _as_tensor(torch: Any, buffer: array | bytearray) -> Any:
    """A tensor over the buffer's memory, without a copy."""
    dtype = {"i": torch.int32, "b": torch.int8, "q": torch.int64}.get(
        getattr(buffer, "typecode", ""), torch.uint8
    )
    if len(buffer) == 0:  # torch.frombuffer refuses an empty buffer
        return torch.empty(0, dtype=dtype)
    return torch.frombuffer(buffer, dtype=dtype)


def _smallest(torch: Any, tensor: Any) -> Any:
    if tensor.numel() == 0:
        return tensor.to(torch.uint8)
    lo, hi = int(tensor.min()), int(tensor.max())
    for dtype in (torch.uint8, torch.int8, torch.int16, torch.uint16, torch.int32):
        info = torch.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            return tensor.to(dtype)
    return tensor


_WRITERS = {"jsonl": _JsonlWriter, "parquet": _ParquetWriter, "pt": _PtWriter}
# A split larger than this is cut into files of about this size (Hugging Face's
# `push_to_hub` default), named as the Hub names them: train-00000-of-00003.parquet.
# `datasets` streams them one by one. A parquet file is cut between its row groups;
# one torch file is never cut.
DEFAULT_SHARD_BYTES = 500 * 1000**2


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT]?B)?", re.IGNORECASE)
_UNITS = {"B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4}


def parse_size(text: str, option: str) -> int:
    """`500MB`, `20KB`, `1.5GB` or a number of bytes, as Hugging Face writes sizes."""
    found = _SIZE.fullmatch(text.strip())
    size = int(float(found[1]) * _UNITS[(found[2] or "B").upper()]) if found else 0
    if size < 1:
        raise IndexerError(f"{option} {text!r} is not a size", hint=f"e.g. {option} 500MB")
    return size


def pack(records: Iterable[Mapping[str, Any]], length: int) -> Iterator[dict[str, Any]]:
    """Records packed into sequences of at most `length` tokens (`PACKED_KEYS`): the
    examples of a split in export order, end to end, a sequence closed when the next
    one would not fit (an example is never cut; none is longer than the budget). The
    same records give the same sequences. A split's last sequence comes at the end."""
    open_: dict[str, tuple[list[Mapping[str, Any]], int]] = {}  # split: members, tokens
    for record in records:
        split, n = record["split"], record["n_tokens"]
        if n > length:
            raise ValueError(f"record {record['id']} has {n} tokens, more than {length}")
        members, tokens = open_.get(split, ([], 0))
        if tokens + n > length:
            yield _packed(members)
            members, tokens = [], 0
        members.append(record)
        open_[split] = (members, tokens + n)
    for members, _tokens in open_.values():
        yield _packed(members)


def _packed(members: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    ids = [m["id"] for m in members]
    return {
        "id": hashlib.sha256("\0".join(ids).encode()).hexdigest()[:16],
        "repo": members[0]["repo"],
        "split": members[0]["split"],
        "examples": ids,
        "input_ids": [i for m in members for i in m["input_ids"]],
        "labels": [i for m in members for i in m["labels"]],
        "attention_mask": [i for m in members for i in m["attention_mask"]],
        "position_ids": [i for m in members for i in range(m["n_tokens"])],
        "n_tokens": sum(m["n_tokens"] for m in members),
    }


def split_files(names: Iterable[str], split: str, fmt: str) -> list[str]:
    """The files of `split` among an export's file names, in order: its one file, or
    its shards."""
    ext = FORMATS[fmt]
    shard = re.compile(re.escape(split) + r"-\d{5}-of-\d{5}" + re.escape(ext))
    return sorted(n for n in names if n == f"{split}{ext}" or shard.fullmatch(n))


class _Shards:
    """One split's files, in temporary names: after a record takes the current one to
    `shard_bytes`, the next goes to a new one."""

    def __init__(
        self,
        out: Path,
        split: str,
        fmt: str,
        row_group_size: int,
        shard_bytes: int | None,
        keys: tuple[str, ...],
    ) -> None:
        self.out, self.split, self.fmt, self.keys = out, split, fmt, keys
        self.row_group_size = row_group_size
        self.shard_bytes = shard_bytes if fmt != "pt" else None
        self.temps: list[Path] = []
        self.num_bytes: int | None = 0
        self._records = 0  # in the current file
        self._writer: Any = None
        self._open()

    def _open(self) -> None:
        temp = self.out / f".{self.split}-{len(self.temps):05d}{FORMATS[self.fmt]}.tmp"
        self.temps.append(temp)
        self._writer = _WRITERS[self.fmt](temp, self.row_group_size, self.keys)
        self._records = 0

    def write(self, record: Mapping[str, Any]) -> None:
        self._writer.write(record)
        self._records += 1
        if self.shard_bytes is not None and self._writer.size() >= self.shard_bytes:
            self._close_file()
            self._open()

    def _close_file(self) -> None:
        self._writer.close()
        size = getattr(self._writer, "num_bytes", None)
        self.num_bytes = None if size is None or self.num_bytes is None else self.num_bytes + size

    def close(self) -> None:
        self._close_file()
        if self._records == 0 and len(self.temps) > 1:  # the file opened after the last cut
            self.temps.pop().unlink()

    def abort(self) -> None:
        self._writer.abort()

    def names(self) -> list[str]:
        """The files' names in place: `train.jsonl`, or train-00000-of-00002.jsonl and on."""
        ext, n = FORMATS[self.fmt], len(self.temps)
        if n == 1:
            return [f"{self.split}{ext}"]
        return [f"{self.split}-{i:05d}-of-{n:05d}{ext}" for i in range(n)]


@dataclass(frozen=True)
class Manifest:
    """What `manifest.json` holds; `extra` is the caller's part, merged at the top level."""

    format: str
    counts: dict[str, int]
    tokens: dict[str, int]
    files: dict[str, str]
    extra: dict[str, Any] = field(default_factory=dict)
    num_bytes: dict[str, int] | None = None  # each split's Arrow bytes (not for pt)

    def to_dict(self) -> dict[str, Any]:
        ours = {
            "schema": SCHEMA,
            "format": self.format,
            "counts": self.counts,
            "tokens": self.tokens,
            "files": self.files,
        }
        if self.num_bytes is not None:
            ours["num_bytes"] = self.num_bytes
        return {**ours, **self.extra}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


Extra = Mapping[str, Any]


def write_export(
    out_dir: Path | str,
    records: Iterable[Mapping[str, Any]],
    fmt: str,
    manifest_extra: Extra | Callable[[], Extra],
    *,
    splits: Sequence[str] = tuple(name for name, _ in DEFAULT_RATIOS),
    on_progress: Callable[[int], None] | None = None,
    row_group_size: int = ROW_GROUP_SIZE,
    card: Callable[[Manifest], str] | None = None,
    attachments: Mapping[str, str | bytes] | None = None,
    shard_bytes: int | None = DEFAULT_SHARD_BYTES,
    keys: tuple[str, ...] = RECORD_KEYS,
) -> Manifest:
    """Stream `records` into `<split>.<fmt>` files in `out_dir` (one per split, empty
    ones included; a split over `shard_bytes` in shards, `DEFAULT_SHARD_BYTES`) and
    write `manifest.json`; returns the manifest. `manifest_extra`
    is the caller's part of it, or a function that gives it once every record is
    written (for counts made while the records stream). `attachments` are more files
    to write beside them (the tokenizer's, `TOKENIZER_FILES`), by name. With `card`,
    also `README.md`: its text from the manifest of the other files, and its sha256
    in it.

    `out_dir` must be new, empty, or a previous export (it has our manifest, or an
    export into it was killed): then its files are replaced, each written under a
    temporary name and moved into place, and files of the previous export that this
    one does not write are removed (by name: only names an export writes, in `out_dir`).
    """
    if fmt not in _WRITERS:
        raise IndexerError(
            f"unknown export format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}"
        )
    out = Path(out_dir)
    attachments = attachments or {}
    assert all(name in TOKENIZER_FILES for name in attachments), list(attachments)
    try:
        previous = _previous_export(out, with_card=card is not None)
        if not callable(manifest_extra):
            _check_extra(manifest_extra)  # before anything is written
        _begin(out)
        shards: dict[str, _Shards] = {}
        try:
            for split in splits:
                shards[split] = _Shards(out, split, fmt, row_group_size, shard_bytes, keys)
            counts, tokens, num_bytes = _write_splits(shards, records, on_progress, keys)
            extra = dict(manifest_extra() if callable(manifest_extra) else manifest_extra)
            _check_extra(extra)
        except BaseException:
            for shard in shards.values():
                for temp in shard.temps:
                    temp.unlink(missing_ok=True)
            if not previous:
                (out / JOURNAL).unlink(missing_ok=True)  # nothing of ours was there, nor is now
            raise
        files = _put_in_place(out, shards.values())
        for name, data in sorted(attachments.items()):
            files[name] = _write_file(out / name, data)
        if card is not None:
            files[CARD] = _write_file(
                out / CARD, card(Manifest(fmt, counts, tokens, dict(files), extra, num_bytes))
            )
        for stale in set(previous.get("files", {})) - set(files):
            _remove_ours(out, stale)
        manifest = Manifest(fmt, counts, tokens, files, extra, num_bytes)
        _write_file(out / MANIFEST, manifest.to_json())
        (out / JOURNAL).unlink()
        return manifest
    except OSError as exc:  # a full disk, a folder that went read-only, ...
        raise IndexerError(
            f"cannot write the export to {out_dir}: {exc.strerror or exc}",
            hint="free some space or pick another folder, then run it again: the rerun"
            " finishes it (a folder without manifest.json holds no complete export)",
        ) from exc


def _check_extra(extra: Extra) -> None:
    clash = _OWN_KEYS & extra.keys()
    if clash:
        raise ValueError(f"manifest_extra may not set {sorted(clash)}")
    json.dumps(dict(extra))  # raises if it is not JSON


def _begin(out: Path) -> None:
    """Say in `out` that an export is under way (`JOURNAL`), and remove the temporary
    files of one that was killed."""
    out.mkdir(parents=True, exist_ok=True)
    (out / JOURNAL).write_text(SCHEMA + "\n", encoding="utf-8")
    for leftover in out.iterdir():
        if leftover.name != JOURNAL and _is_our_temp(leftover.name):
            leftover.unlink()


def _write_splits(
    shards: Mapping[str, _Shards],
    records: Iterable[Mapping[str, Any]],
    on_progress: Callable[[int], None] | None,
    keys: tuple[str, ...],
) -> tuple[dict[str, int], dict[str, int], dict[str, int] | None]:
    """Write each record into its split's files; the records, tokens and Arrow bytes
    (None for pt) of each split."""
    counts = dict.fromkeys(shards, 0)
    tokens = dict.fromkeys(shards, 0)
    open_shards = dict(shards)
    try:
        for done, record in enumerate(records, 1):
            _check_record(record, counts, keys)
            shards[record["split"]].write(record)
            counts[record["split"]] += 1
            tokens[record["split"]] += record["n_tokens"]
            if on_progress is not None:
                on_progress(done)
        while open_shards:
            open_shards.popitem()[1].close()
    except BaseException:
        for shard in open_shards.values():
            try:
                shard.abort()
            except Exception:
                pass  # the first error is the one worth reporting
        raise
    sizes = {split: shard.num_bytes for split, shard in shards.items()}
    if any(size is None for size in sizes.values()):
        return counts, tokens, None
    return counts, tokens, {split: size or 0 for split, size in sizes.items()}


def _put_in_place(out: Path, shards: Iterable[_Shards]) -> dict[str, str]:
    """Move the split files into place, the old manifest gone first (a folder without
    one holds no complete export); their names and sha256."""
    moves = [
        (temp, name)
        for shard in shards
        for temp, name in zip(shard.temps, shard.names(), strict=True)
    ]
    files = {name: _sha256(temp) for temp, name in moves}
    (out / MANIFEST).unlink(missing_ok=True)
    for temp, name in moves:
        os.replace(temp, out / name)
    return files


def _remove_ours(out: Path, name: str) -> None:
    """Remove a file the previous export wrote: only a name an export of ours could
    have written, whatever the old manifest says."""
    if _is_our_name(name):
        (out / name).unlink(missing_ok=True)


def _write_file(path: Path, data: str | bytes) -> str:
    """Write `data` (text as UTF-8) under a temporary name and move it to `path`; its
    sha256."""
    temp = path.with_name(f".{path.name}.tmp")
    if isinstance(data, str):
        temp.write_text(data, encoding="utf-8", newline="\n")
    else:
        temp.write_bytes(data)
    digest = _sha256(temp)
    os.replace(temp, path)
    return digest


def _previous_export(out: Path, with_card: bool) -> dict[str, Any]:
    """The manifest of the export already in `out`, {} if `out` is new or empty;
    refuses a directory holding anything else, or, `with_card`, a README.md that is
    not a previous export's card."""
    previous = _previous_manifest(out)
    if with_card and (out / CARD).exists() and CARD not in previous.get("files", {}):
        raise IndexerError(
            f"{out / CARD} is not the card of a previous export",
            hint=f"move it away: the export writes its dataset card to {CARD}",
        )
    return previous


def _previous_manifest(out: Path) -> dict[str, Any]:
    if not out.exists():
        return {}
    if not out.is_dir():
        raise IndexerError(f"{out} is not a directory", hint="give a new or empty folder")
    entries = [p.name for p in out.iterdir()]
    if all(_is_our_temp(name) for name in entries):
        return {}  # empty, or the temporary files of a first export that was killed
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = None
    if manifest is None and _journal_says_ours(out):
        # An export was killed after it removed the old manifest: what has our names
        # is that export's or the one before.
        return {"files": {name: None for name in entries if _is_our_name(name)}}
    if not isinstance(manifest, dict) or manifest.get("schema") != SCHEMA:
        raise IndexerError(
            f"{out} is not empty and holds no export of commit-indexer",
            hint="give a new or empty folder, or the folder of a previous export to replace it",
        )
    return manifest


def _is_our_name(name: str) -> bool:
    """A name an export writes: the card, the tokenizer's files, or
    `<split>.<format>` in the folder itself (never a path: a crafted manifest must not
    reach outside it)."""
    if name == CARD or name in TOKENIZER_FILES:
        return True
    stem, dot, ext = name.partition(".")
    split, _dash, shard = stem.partition("-")
    return (
        bool(split)
        and split.isidentifier()
        and (not shard or _SHARD.fullmatch(shard) is not None)
        and f"{dot}{ext}" in FORMATS.values()
    )


_SHARD = re.compile(r"\d{5}(?:-of-\d{5})?")  # 00001-of-00003; 00001 as a temporary name


def _is_our_temp(name: str) -> bool:
    inner = name.removeprefix(".").removesuffix(".tmp")
    temp = name.startswith(".") and name.endswith(".tmp")
    return name == JOURNAL or (temp and (_is_our_name(inner) or inner == MANIFEST))


def _journal_says_ours(out: Path) -> bool:
    try:
        return (out / JOURNAL).read_text(encoding="utf-8").strip() == SCHEMA
    except (OSError, UnicodeDecodeError):
        return False


def _check_record(
    record: Mapping[str, Any], counts: Mapping[str, int], keys: tuple[str, ...]
) -> None:
    # A malformed record is a bug in the code that built it, not the user's mistake.
    if tuple(record) != keys:
        raise ValueError(f"record keys {list(record)} are not {list(keys)}")
    if record["split"] not in counts:
        raise ValueError(
            f"record {record['id']} has split {record['split']!r}, not one of {list(counts)}"
        )
    n = record["n_tokens"]
    if not len(record["input_ids"]) == len(record["labels"]) == len(record["attention_mask"]) == n:
        raise ValueError(
            f"record {record['id']}: token arrays do not all have n_tokens={n} entries"
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
