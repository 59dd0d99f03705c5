"""The dataset card: a Hugging Face YAML header whose counts are the manifest's, and
the settings; listed in the manifest like every file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml
from gitrepo import cli

from indexer.dataset.export import RECORD_KEYS
from indexer.demo import build_demo_repo


def _front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    header, body = text[4:].split("\n---\n", 1)
    assert body.startswith("\n# ")
    return yaml.safe_load(header)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = build_demo_repo(tmp_path_factory.mktemp("card") / "demo").path
    assert cli("backfill", "--repo", path).exit_code == 0
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "pt"])
def test_the_card_header_matches_the_manifest(demo: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / fmt
    result = cli("export", out, "--format", fmt, "--dedup", "near", "--repo", demo)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    card = (out / "README.md").read_text(encoding="utf-8")
    assert manifest["files"]["README.md"] == hashlib.sha256(card.encode()).hexdigest()
    header = _front_matter(card)
    info = header["dataset_info"]
    assert {s["name"]: s["num_examples"] for s in info["splits"]} == manifest["counts"]
    assert [f["name"] for f in info["features"]] == list(RECORD_KEYS)
    if fmt == "pt":
        assert "configs" not in header  # `datasets` does not read the torch files
    else:
        (config,) = header["configs"]
        files = {f["split"]: f["path"] for f in config["data_files"]}
        assert set(files) == set(manifest["counts"])
        assert all(manifest["files"][path] for path in files.values())
    body = card.split("\n---\n", 1)[1]
    tokenizer = manifest["tokenizer"]
    for text in (
        tokenizer["sha256"],
        f"template: {manifest['settings']['template']}",
        f"max tokens: {manifest['settings']['max_tokens']}",
        f"{manifest['dedup']['near_duplicates']} near duplicates",
        f"{manifest['secrets']['dropped_examples']} examples dropped",
        f"| all | {sum(manifest['counts'].values())} | {sum(manifest['tokens'].values())} |",
        *(f"{n} {reason}" for reason, n in manifest["skips"].items()),
        "| labels |",
    ):
        assert text in body, text


def test_a_readme_that_is_not_ours_is_not_overwritten(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli("export", out, "--repo", demo).exit_code == 0
    (out / "README.md").unlink()
    (out / "README.md").write_text("my notes")
    # The previous manifest lists README.md: it is the card this export wrote, replaced.
    assert cli("export", out, "--repo", demo).exit_code == 0
    assert (out / "README.md").read_text().startswith("---\n")
    mine = tmp_path / "mine"
    mine.mkdir()
    assert cli("export", mine, "--repo", demo).exit_code == 0
    manifest = json.loads((mine / "manifest.json").read_text())
    del manifest["files"]["README.md"]
    (mine / "manifest.json").write_text(json.dumps(manifest))
    result = cli("export", mine, "--repo", demo)
    assert result.exit_code == 2 and "README.md is not the card" in result.output
