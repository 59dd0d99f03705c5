"""Duplicates: stored once, exported once (exact) or not at all when alike (near), never
in two splits; the index is small and the export deterministic."""

from __future__ import annotations

import hashlib
import json
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest
from gitrepo import Repo, cli, count, db_url, make_repo

from indexer.dataset.curate import FILTERS
from indexer.dataset.dedup import Dedup


def _records(folder: Path) -> list[dict]:
    return [
        json.loads(line)
        for split in ("train", "validation", "test")
        for line in (folder / f"{split}.jsonl").read_text().splitlines()
    ]


def _content(record: dict) -> str:
    return json.dumps([record["segments"], record["target"]])


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _version(n: int, lines: int = 30) -> str:
    """A function whose body differs between versions by one constant."""
    body = "".join(f"    let v{i} = input.field_{i}.wrapping_add({i});\n" for i in range(lines))
    return f"pub fn step(input: &Input) -> u64 {{\n{body}    v0 + {n}\n}}\n"


def _toggling_history(repo: Repo, commits: int = 60, versions: int = 3) -> None:
    """The same edits again and again (a revert of a revert of ...): commit i sets the
    function to version i % versions, so its examples repeat exactly every `versions`
    commits, and the versions differ by one constant (near duplicates)."""
    repo.commit({"src/input.rs": "pub struct Input {\n    pub field_0: u64,\n}\n"}, "Input")
    for i in range(commits):
        repo.commit({"src/lib.rs": _version(i % versions)}, "Toggle the step")


def test_exact_duplicates_are_stored_once_and_exported_once(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    _toggling_history(repo)
    assert cli("backfill", "--repo", repo.path).exit_code == 0
    url = db_url(repo)
    examples = count(url, "SELECT count(*) FROM examples")
    contents = count(url, "SELECT count(*) FROM example_contents")
    # Input, the first `step` (added), then three (old, new) pairs over and over.
    assert (examples, contents) == (61, 5)
    assert "distinct   5" in cli("stats", "--repo", repo.path).output

    # Split by commit, as before splits by lineage, and no filter but the duplicates'.
    flags = ("--split", "commit", *(f for name in FILTERS for f in ("--keep", name)))
    none = cli("export", tmp_path / "none", "--dedup", "none", "--repo", repo.path, *flags)
    assert none.exit_code == 0, none.output
    everything = _records(tmp_path / "none")
    assert len(everything) == 61
    spread = Counter(
        len({r["split"] for r in everything if _content(r) == c})
        for c in {_content(r) for r in everything}
    )
    assert max(spread) > 1  # without dedup an equal example does land in two splits

    result = cli("export", tmp_path / "exact", "--repo", repo.path, *flags)  # exact: the default
    assert result.exit_code == 0, result.output
    assert "56 exact_duplicates" in result.output
    kept = _records(tmp_path / "exact")
    assert len(kept) == 5
    assert len({_content(r) for r in kept}) == 5  # each content once, so in one split
    manifest = json.loads((tmp_path / "exact" / "manifest.json").read_text())
    assert manifest["dedup"] == {"mode": "exact", "exact_duplicates": 56}
    assert sum(manifest["counts"].values()) == 5
    # The first in export order is kept: the earliest commit of each content.
    dates = {}
    for r in everything:
        dates.setdefault(_content(r), []).append(r["date"])
    assert sorted(r["date"] for r in kept) == sorted(min(d) for d in dates.values())


def test_near_duplicates_are_left_out_across_splits(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    _toggling_history(repo, commits=24, versions=6)
    # A vendored copy: the same function at another path (not an exact duplicate).
    repo.commit({"vendor/step/src/lib.rs": _version(0)}, "Vendor step")
    repo.commit({"src/other.rs": "pub fn other(a: u8) -> u8 {\n    a * 2\n}\n"}, "Other")
    assert cli("backfill", "--repo", repo.path).exit_code == 0
    for name in ("a", "b"):
        result = cli("export", tmp_path / name, "--dedup", "near", "--repo", repo.path)
        assert result.exit_code == 0, result.output
    assert _hashes(tmp_path / "a") == _hashes(tmp_path / "b")
    kept = _records(tmp_path / "a")
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    dedup = manifest["dedup"]
    assert dedup["mode"] == "near" and dedup["threshold"] == 0.85 and dedup["seed"] == 1
    total = count(db_url(repo), "SELECT count(*) FROM examples")
    assert len(kept) + dedup["exact_duplicates"] + dedup["near_duplicates"] == total
    assert dedup["exact_duplicates"] > 0 and dedup["near_duplicates"] > 0
    assert sorted(r["qualname"] for r in kept) == ["Input", "other", "step"]
    assert "vendor/step/src/lib.rs" not in {r["path"] for r in kept}

    def words(text: str) -> set[tuple[str, ...]]:
        w = text.split()
        return {tuple(w[i : i + 3]) for i in range(len(w) - 2)}

    for a in kept:
        for b in kept:
            if a is not b:
                x, y = words(a["target"]), words(b["target"])
                assert len(x & y) / len(x | y) < 0.85
    # A strict threshold keeps the versions apart.
    strict = tmp_path / "strict"
    result = cli(
        "export", strict, "--dedup", "near", "--near-threshold", "0.98", "--repo", repo.path
    )
    assert result.exit_code == 0, result.output
    assert len(_records(strict)) > len(kept)


def test_dedup_settings_are_checked(repo: Repo) -> None:
    repo.commit({"src/lib.rs": "pub fn a() {}\n"})
    assert cli("backfill", "--repo", repo.path).exit_code == 0
    result = cli("export", repo.path.parent / "x", "--dedup", "fuzzy", "--repo", repo.path)
    assert result.exit_code == 2 and "'fuzzy' is not one of 'none', 'exact', 'near'" in (
        result.output
    )
    result = cli(
        "export",
        repo.path.parent / "y",
        "--dedup",
        "near",
        "--near-threshold",
        "0",
        "--repo",
        repo.path,
    )
    assert result.exit_code == 2 and "threshold" in result.output


def test_gc_removes_contents_no_example_uses(repo: Repo) -> None:
    repo.commit({"src/lib.rs": "pub fn a() -> u8 {\n    1\n}\n"})
    repo.commit({"src/lib.rs": "pub fn a() -> u8 {\n    2\n}\n"})
    assert cli("backfill", "--repo", repo.path).exit_code == 0
    url = db_url(repo)
    assert count(url, "SELECT count(*) FROM example_contents") == 2
    repo.git("reset", "-q", "--hard", "HEAD~1")
    assert cli("gc", "--repo", repo.path).exit_code == 0
    assert count(url, "SELECT count(*) FROM example_contents") == 1


@pytest.mark.parametrize("n", [2_000])
def test_the_near_index_is_small_per_example(n: int) -> None:
    """The memory that grows with the dataset is the index alone: about 2.5 KB an
    example for `near` (MinHashLSH's keys and 8 band buckets), a bit for `exact`."""
    targets = [
        f"pub fn f{i}(x: u64) -> u64 {{ let y = x.rotate_left({i}); y ^ {i * 7919} }}"
        for i in range(n)
    ]
    near = Dedup("near")
    near.check(0, "warm up").keep()  # the permutations are made once, not per example
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i, target in enumerate(targets, 1):
            candidate = near.check(i, target)
            if not candidate.duplicate:
                candidate.keep()
        per_example = (tracemalloc.get_traced_memory()[0] - before) / n
    finally:
        tracemalloc.stop()
    assert near.info["near_duplicates"] < n / 10
    assert per_example < 3_000, per_example
    exact = Dedup("exact")
    exact.check(1_000_000, "x").keep()
    assert exact.check(1_000_000, "y").duplicate == "exact"
    assert len(exact._bits) < 300_000  # one bit per content id, grown by doubling
