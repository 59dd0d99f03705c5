"""The adversarial history (adversarial.py) end to end: backfilled, hook-synced and
exported with exit 0, every skip counted by reason, nothing stored or exported twice,
and the store the hooks fed equal to a backfill's."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pygit2
import pytest
from adversarial import (
    MANY_FILES,
    PARTIAL,
    SKIPPED,
    adversarial_history,
    shallow_clone,
)
from gitrepo import (
    Repo,
    backfill,
    cli,
    count,
    db_url,
    dump_store,
    file_hashes,
    history_blobs,
    make_repo,
    rows,
    skipped,
    stats,
    wait_idle,
)

from indexer import git
from indexer.dataset.curate import FILTERS
from indexer.index.sync import POOL_MIN_COMMITS
from indexer.rust import SUFFIX

# Items of the history that do not become examples, by reason: the struct of the
# deleted file and the fn each side of the conflict replaced; the binary, latin-1 and
# minified files.
EXAMPLE_SKIPS = {"deleted": 3, "unparsed_blob": 3}


@pytest.fixture
def history(repo: Repo) -> dict[str, str]:
    return adversarial_history(repo)


def export(repo: Repo, out: Path, *flags: str) -> tuple[dict, list[dict]]:
    """Export as jsonl, which must succeed; the manifest and every record."""
    result = cli("export", out, "--repo", repo.path, *flags)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    records = [
        json.loads(line)
        for split in manifest["counts"]
        for line in (out / f"{split}.jsonl").read_text().splitlines()
    ]
    return manifest, records


def assert_no_duplicates(records: list[dict]) -> None:
    """No two records share an id or a natural key, and no item (path, kind and
    qualified name) spans two splits."""
    ids = Counter(r["id"] for r in records)
    assert [i for i, n in ids.items() if n > 1] == []
    keys = Counter((r["commit"], r["path"], r["kind"], r["qualname"]) for r in records)
    assert [k for k, n in keys.items() if n > 1] == []
    splits: dict[tuple[str, str, str], set[str]] = {}
    for r in records:
        splits.setdefault((r["path"], r["kind"], r["qualname"]), set()).add(r["split"])
    assert {c: s for c, s in splits.items() if len(s) > 1} == {}


# Every curation filter off: each stored example is exported (`dataset/curate.py`).
KEEP_ALL = tuple(f for name in FILTERS for f in ("--keep", name))


def test_the_history_is_the_same_on_every_run(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir(), (tmp_path / "two").mkdir()
    first = adversarial_history(make_repo(tmp_path / "one"))
    second = adversarial_history(make_repo(tmp_path / "two"))
    assert first == second


def test_backfill_counts_every_skip_and_stores_nothing_twice(
    repo: Repo, history: dict[str, str]
) -> None:
    assert "indexed" in backfill(repo)
    assert skipped(repo) == SKIPPED
    assert skipped(repo, "partial") == PARTIAL
    reachable = repo.git("rev-list", "--all", "--count")
    assert stats(repo)["commits"] == f"{reachable} (2 merges, 0 shallow boundaries)"
    assert "(not examples: 3 deleted, 3 unparsed_blob)" in stats(repo)["examples"]
    # each distinct .rs blob parsed (or skipped) once, however often it comes back
    assert count(db_url(repo), "SELECT count(*) FROM blobs") == len(history_blobs(repo))
    before = dump_store(db_url(repo))
    assert "up to date" in backfill(repo)
    assert dump_store(db_url(repo)) == before


def test_each_awkward_commit_is_indexed_as_it_should_be(
    repo: Repo, history: dict[str, str]
) -> None:
    def changes(commit: str) -> list[tuple]:
        sql = (
            "SELECT ch.status, ch.path, ch.old_path, ch.entry FROM changes ch"
            " JOIN commits c ON c.id = ch.commit_id WHERE c.oid = ? ORDER BY ch.path"
        )
        return rows(repo, sql, history[commit])

    def examples(commit: str) -> Counter[str]:
        sql = "SELECT e.change FROM examples e JOIN commits c ON c.id = e.commit_id WHERE c.oid = ?"
        return Counter(change for (change,) in rows(repo, sql, history[commit]))

    url = db_url(repo)
    cli("sync", "--repo", repo.path, "--rev", history["deleted"])
    blobs = count(url, "SELECT count(*) FROM blobs")
    restored = cli("sync", "--repo", repo.path, "--rev", history["restored"])
    assert "indexed 1 commits, parsed 0 blobs" in restored.output  # it was parsed before
    assert count(url, "SELECT count(*) FROM blobs") == blobs
    backfill(repo)
    assert changes("empty") == []
    assert changes("rename") == [("R", "src/new_name.rs", "src/old_name.rs", "file")]
    assert examples("rename") == {"modified": 1}  # matched across the rename: one fn edited
    assert examples("restored") == {"added": 1}
    assert examples("many_added") == {"added": MANY_FILES}
    assert examples("many_edited") == {"modified": MANY_FILES}
    assert changes("conflict_merge") == [("M", "src/conflict.rs", None, "file")]
    assert examples("conflict_merge") == {}  # a merge's resolution is not one author's change
    [(parents,)] = rows(repo, "SELECT parents FROM commits WHERE oid = ?", history["octopus"])
    assert len(parents.split()) == 4
    assert changes("octopus") == []
    assert changes("submodule") == [("A", "vendor/dep", None, "submodule")]
    assert [entry for *_, entry in changes("symlinks")] == ["symlink", "symlink"]
    messages = "SELECT message FROM commits WHERE oid IN (?, ?)"
    pair = (history["latin1_message"], history["bogus_encoding"])
    assert rows(repo, messages, *pair) == [("café crème\n",)] * 2
    assert examples("detached") == {"modified": 1}


def test_export_holds_every_example_once(
    repo: Repo, history: dict[str, str], tmp_path: Path
) -> None:
    backfill(repo)
    manifest, records = export(repo, tmp_path / "out", *KEEP_ALL)
    assert_no_duplicates(records)
    assert len(records) == count(db_url(repo), "SELECT count(*) FROM examples")
    assert {k: manifest["skips"][k] for k in EXAMPLE_SKIPS} == EXAMPLE_SKIPS
    exported = {r["commit"] for r in records}
    assert history["detached"] in exported  # HEAD is detached: export follows it
    assert history["bogus_encoding"] not in exported  # only a branch reaches it
    for fmt in ("parquet", "pt"):
        result = cli("export", tmp_path / fmt, "--format", fmt, "--repo", repo.path, *KEEP_ALL)
        assert result.exit_code == 0, result.output
        again = json.loads((tmp_path / fmt / "manifest.json").read_text())
        assert again["counts"] == manifest["counts"]


def test_minified_file_within_the_limit_is_parsed_and_too_long_to_export(
    repo: Repo, history: dict[str, str], tmp_path: Path
) -> None:
    backfill(repo, "--max-blob-bytes", "3000000")
    assert "too_large" not in skipped(repo)
    sql = (
        "SELECT count(*) FROM examples e JOIN commits c ON c.id = e.commit_id"
        f" WHERE c.oid = '{history['minified']}'"
    )
    assert count(db_url(repo), sql) == 200
    manifest, records = export(repo, tmp_path / "out", "--keep", "bulk", "--keep", "trivial")
    assert_no_duplicates(records)
    assert not any(r["path"] == "src/minified.rs" for r in records)
    assert manifest["skips"]["target_too_long"] == 200  # 10 kB of digits: over 2,048 tokens


def test_hooks_feed_the_same_store_as_a_backfill(repo: Repo, tmp_path: Path) -> None:
    result = cli("hook", "install", "--repo", repo.path)
    assert result.exit_code == 0, result.output
    adversarial_history(repo)  # every commit, merge and checkout runs the hooks
    wait_idle(repo, seconds=120)
    log = (repo.path / ".git" / "commit-indexer" / "hook.log").read_text()
    assert "error" not in log, log
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    backfill(repo, "--db", fresh)
    assert dump_store(db_url(repo)) == dump_store(fresh)
    for url, out in ((db_url(repo), tmp_path / "hooked"), (fresh, tmp_path / "fresh")):
        result = cli("export", out, "--repo", repo.path, "--db", url)
        assert result.exit_code == 0, result.output
    assert file_hashes(tmp_path / "hooked") == file_hashes(tmp_path / "fresh")


def test_shallow_clone_of_it(repo: Repo, history: dict[str, str], tmp_path: Path) -> None:
    shallow = shallow_clone(repo, tmp_path / "shallow", depth=4)
    assert shallow.git("rev-parse", "--is-shallow-repository") == "true"
    backfill(shallow)
    # git grafts every commit at the depth limit (here a merge and the octopus's arms)
    grafted = len((shallow.path / ".git" / "shallow").read_text().split())
    held = shallow.git("rev-list", "--all", "--count")
    assert stats(shallow)["commits"] == f"{held} (2 merges, {grafted} shallow boundaries)"
    before = dump_store(db_url(shallow))
    assert "up to date" in backfill(shallow)
    assert dump_store(db_url(shallow)) == before
    _manifest, records = export(shallow, tmp_path / "out")
    assert_no_duplicates(records)


def test_parser_pool_stores_the_same(repo: Repo, history: dict[str, str], tmp_path: Path) -> None:
    for n in range(POOL_MIN_COMMITS):  # enough commits that backfill starts its parser pool
        repo.commit({"src/pad.rs": f"pub fn pad{n}() {{}}\n"}, f"pad {n}")
    dumps = []
    # All in one process; one parser beside the writer; two parsers.
    for workers in ("1", "2", "3"):
        url = f"sqlite:///{tmp_path / f'workers-{workers}.db'}"
        backfill(repo, "--db", url, "--workers", workers)
        dumps.append(dump_store(url))
    assert dumps[0] == dumps[1] == dumps[2]


def test_file_lists_made_from_another_commits_equal_a_walk_of_the_tree(
    repo: Repo, history: dict[str, str]
) -> None:
    """Example building reads each parent's .rs files from the last commit's list and
    the diff of the two trees; across renames, deletions, symlinks, a submodule,
    odd names and merges, from the commit before and from far away, in both
    directions, that equals walking the whole tree."""
    git_repo = pygit2.Repository(str(repo.path))
    order = repo.git("rev-list", "--reverse", "--topo-order", "HEAD").split()
    commits = [git_repo[oid] for oid in order]
    full = [git.source_files_at(git_repo, c, SUFFIX) for c in commits]
    assert any(len(files) > 300 for files in full)  # the history's many-files commit
    for step in (1, 7, len(commits) - 1):
        for i in range(len(commits) - step):
            for a, b in ((i, i + step), (i + step, i)):
                made = git.source_files_from(commits[a], full[a], commits[b], SUFFIX)
                assert made == full[b], (order[a], order[b])
