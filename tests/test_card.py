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
    assert [f["name"] for f in info["features"]] == list(RECORD_KEYS)
    if fmt == "pt":
        assert "configs" not in header  # `datasets` does not read the torch files
        assert "splits" not in info  # nor has their Arrow sizes
    else:
        counts = {s["name"]: s["num_examples"] for s in info["splits"]}
        assert counts == {s: n for s, n in manifest["counts"].items() if n}
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


def test_the_card_is_what_the_hub_reads(tmp_path: Path) -> None:
    """The header as huggingface_hub's DatasetCard reads it: the repo named by its
    origin (credentials never shown), its license from Cargo.toml, the Hub's
    categories; `load_dataset` takes its split sizes without a warning and checks
    the counts against them."""
    import logging

    import datasets
    from gitrepo import make_repo
    from huggingface_hub import DatasetCard, DatasetCardData
    from test_splits import history

    repo = make_repo(tmp_path)
    history(repo, items=8, versions=2)
    cargo = '[package]\nname = "roster"\nversion = "0.1.0"\nlicense = "MIT OR Apache-2.0"\n'
    repo.commit({"Cargo.toml": cargo}, "License it")
    repo.git("remote", "add", "origin", "https://ci:s3cr3t@github.com/acme/roster.git")
    assert cli("backfill", "--repo", repo.path).exit_code == 0
    out = tmp_path / "roster-out"
    assert cli("export", out, "--repo", repo.path).exit_code == 0
    text = (out / "README.md").read_text(encoding="utf-8")
    assert "s3cr3t" not in text and "s3cr3t" not in (out / "manifest.json").read_text()
    card = DatasetCard(text)
    data: DatasetCardData = card.data
    assert data.pretty_name == "acme/roster commits"
    assert data.license == ["mit", "apache-2.0"]
    assert data.task_categories == ["text-generation"] and data.language == ["code"]
    assert data.size_categories == ["n<1K"]
    assert "- source: https://github.com/acme/roster" in text
    rows = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    assert {r["repo"] for r in rows} == {"acme/roster"}

    class Caught(logging.Handler):
        messages: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.messages.append(record.getMessage())

    caught = Caught()
    logging.getLogger("datasets").addHandler(caught)
    try:
        ds = datasets.load_dataset(str(out))
    finally:
        logging.getLogger("datasets").removeHandler(caught)
    assert not [m for m in caught.messages if "dataset_info" in m], caught.messages
    manifest = json.loads((out / "manifest.json").read_text())
    for split, n in manifest["counts"].items():
        if n:
            info = ds[split].info.splits[split]
            assert info.num_examples == n == len(ds[split])
            assert info.num_bytes == manifest["num_bytes"][split] == ds[split].data.nbytes


def test_the_license_as_cargo_and_the_license_files_say(tmp_path: Path) -> None:
    from gitrepo import make_repo

    from indexer.dataset.source import source_of
    from indexer.git import open_repo

    repo = make_repo(tmp_path)
    cases = [
        ({"LICENSE-MIT": "MIT", "LICENSE-APACHE": "Apache"}, ("mit", "apache-2.0")),
        (
            {"Cargo.toml": '[package]\nname = "a"\nlicense = "MIT/Apache-2.0"\n'},
            ("mit", "apache-2.0"),
        ),
        (
            {"Cargo.toml": '[workspace.package]\nlicense = "Apache-2.0 WITH LLVM-exception"\n'},
            ("apache-2.0",),
        ),
        ({"Cargo.toml": "[package\nbroken"}, ("mit", "apache-2.0")),  # the files again
    ]
    git = open_repo(str(repo.path))
    for files, licenses in cases:
        repo.commit(files, "license")
        source = source_of(git, git.revparse_single("HEAD"))
        assert source.licenses == licenses, files
        assert (source.name, source.url) == (repo.path.name, None)  # no origin: the folder
    repo.git("remote", "add", "origin", "git@gitlab.com:group/sub/name.git")
    source = source_of(git, git.revparse_single("HEAD"))
    assert (source.name, source.url) == ("sub/name", "https://gitlab.com/group/sub/name")
