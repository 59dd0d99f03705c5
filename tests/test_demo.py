"""The embedded demo repository: deterministic, and shaped the way the indexer needs."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import tree_sitter as ts
import tree_sitter_rust as tsr

from indexer.demo import (
    DELETED_STRUCT,
    FEATURE_BRANCH,
    RENAMED_FILE,
    REVERTED_FILES,
    TAG,
    DemoRepo,
    build_demo_repo,
)


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=check
    )


def out(repo: Path, *args: str) -> str:
    return git(repo, *args).stdout.strip()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRepo:
    return build_demo_repo(tmp_path_factory.mktemp("demo") / "roster")


def test_same_head_in_two_places(demo: DemoRepo, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()  # an existing empty directory is accepted too
    again = build_demo_repo(empty)
    assert again.head == demo.head
    assert again.commits == demo.commits
    assert out(empty, "rev-parse", f"{TAG}^{{}}") == out(demo.path, "rev-parse", f"{TAG}^{{}}")


def test_the_history_is_the_one_the_figures_were_measured_on(demo: DemoRepo) -> None:
    # HEAD's oid covers every commit, tree, message and date before it: the history
    # built from history.toml is the one the Python-held history built.
    assert demo.head == "e6acfbb6967cb6041a252331c60dab9ba48025cd"


def test_refuses_a_non_empty_destination(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        build_demo_repo(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_commit_count_and_head(demo: DemoRepo) -> None:
    assert 35 <= demo.commits <= 45
    assert int(out(demo.path, "rev-list", "--count", "HEAD")) == demo.commits
    assert out(demo.path, "rev-parse", "HEAD") == demo.head
    assert out(demo.path, "symbolic-ref", "--short", "HEAD") == "main"
    assert out(demo.path, "status", "--porcelain") == ""


def test_feature_branch_is_merged_with_a_real_merge(demo: DemoRepo) -> None:
    merges = out(demo.path, "rev-list", "--merges", "HEAD").split()
    assert len(merges) == 1
    first, second = out(demo.path, "rev-parse", f"{merges[0]}^1", f"{merges[0]}^2").split()
    assert second == out(demo.path, "rev-parse", FEATURE_BRANCH)
    # Both sides moved after they forked: not a fast-forward in disguise.
    base = out(demo.path, "merge-base", first, second)
    assert base not in (first, second)
    assert int(out(demo.path, "rev-list", "--count", f"{base}..{second}")) >= 3


def test_rename_is_detected(demo: DemoRepo) -> None:
    log = out(demo.path, "log", "--name-status", "-M", "--format=")
    old, new = RENAMED_FILE
    assert re.search(rf"^R\d+\t{re.escape(old)}\t{re.escape(new)}$", log, re.M)


def test_deleted_struct_exists_only_in_the_past(demo: DemoRepo) -> None:
    pattern = f"struct {DELETED_STRUCT}"
    assert git(demo.path, "grep", "-q", pattern, "HEAD", check=False).returncode == 1
    revs = out(demo.path, "rev-list", "HEAD").split()
    hits = git(demo.path, "grep", "-l", pattern, *revs, check=False).stdout.splitlines()
    assert hits, f"{DELETED_STRUCT} never appears in the history"
    assert all(hit.endswith(":src/config.rs") for hit in hits)


def test_revert_restores_earlier_blobs(demo: DemoRepo) -> None:
    reverts = out(demo.path, "log", "--format=%H", "--grep=^This reverts commit").split()
    assert len(reverts) == 1
    body = out(demo.path, "log", "-1", "--format=%B", reverts[0])
    reverted = re.search(r"This reverts commit ([0-9a-f]{40})\.", body).group(1)
    for path in REVERTED_FILES:
        before = out(demo.path, "rev-parse", f"{reverted}^:{path}")
        assert out(demo.path, "rev-parse", f"{reverted}:{path}") != before
        assert out(demo.path, "rev-parse", f"{reverts[0]}:{path}") == before


def test_tag_and_message_bodies(demo: DemoRepo) -> None:
    assert out(demo.path, "cat-file", "-t", TAG) == "tag"
    tagged = out(demo.path, "rev-parse", f"{TAG}^{{commit}}")
    assert git(demo.path, "merge-base", "--is-ancestor", tagged, "HEAD").returncode == 0
    bodies = out(demo.path, "log", "--format=%b%x00").split("\0")
    assert sum(1 for b in bodies if b.strip()) >= 5


def test_dates_advance_one_hour_per_commit(demo: DemoRepo) -> None:
    dates = [int(d) for d in out(demo.path, "log", "--format=%ct", "--date-order").split()]
    assert sorted(dates) == [1704067200 + 3600 * i for i in range(demo.commits)]


def test_every_rust_blob_in_history_parses(demo: DemoRepo) -> None:
    parser = ts.Parser(ts.Language(tsr.language()))
    blobs = set()
    for line in out(demo.path, "rev-list", "--objects", "--all").splitlines():
        oid, _, path = line.partition(" ")
        if path.endswith(".rs"):
            blobs.add(oid)
    head_files = out(demo.path, "ls-tree", "-r", "--name-only", "HEAD").splitlines()
    head_rs = [p for p in head_files if p.endswith(".rs")]
    assert len(head_rs) >= 10
    assert len(blobs) > len(head_rs)  # files really change over time
    for oid in sorted(blobs):
        data = git(demo.path, "cat-file", "blob", oid).stdout.encode()
        assert not parser.parse(data).root_node.has_error, oid
    for path in head_rs:
        data = (demo.path / path).read_bytes()
        assert not parser.parse(data).root_node.has_error, path


def test_head_covers_the_rust_features_the_indexer_handles(demo: DemoRepo) -> None:
    source = "\n".join(p.read_text() for p in sorted((demo.path / "src").rglob("*.rs")))
    for needle in [
        "#[derive(",
        "pub trait Store",
        "impl Store for MemoryStore",
        "impl User {",
        "where\n",
        "pub type UserId",
        "pub const ",
        "pub static ",
        "macro_rules! ensure",
        "mod tests {",
        "use super::*;",
        "use std::collections::*;",
        "Role as UserRole",
        "use crate::{\n",
    ]:
        assert needle in source, needle
