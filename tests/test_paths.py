"""Repos under any path, store URLs of any shape: the store is where it should be, and
nothing is written anywhere else."""

from __future__ import annotations

from pathlib import Path

import pytest
from gitrepo import cli, make_repo

LIB = "pub struct Config {\n    pub port: u16,\n}\n"
NAMES = ["é ü ß", "quote'\"x", "dollar$x;y", "hash#x", "query?x=1", "pct%41x", "sp ace", "at@x:1"]


def _files(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", NAMES)
def test_a_repo_under_any_path_keeps_its_store_in_its_git_dir(tmp_path: Path, name: str) -> None:
    base = tmp_path / name
    base.mkdir()
    repo = make_repo(base)
    repo.commit({"src/lib.rs": LIB}, "one")
    before = _files(tmp_path)
    for args in (("backfill",), ("stats",), ("export", tmp_path / "out")):
        result = cli(*args, "--repo", repo.path)
        assert result.exit_code == 0, result.output
    new = {p for p in _files(tmp_path) - before}
    git_dir = (repo.path / ".git").relative_to(tmp_path)
    outside = [p for p in new if git_dir not in p.parents and p.parts[0] != "out"]
    assert not outside, outside
    assert (repo.path / ".git" / "commit-indexer" / "index.db").is_file()
    assert sorted(p.name for p in (tmp_path / "out").iterdir())  # the export is there
