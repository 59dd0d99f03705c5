"""Splits that do not leak: every version of an item in one split (through renames,
moves and reverts), no example moved by new commits, train cleaned of clones of val
and test targets, ratios reported. Real repositories, backfilled and exported by the
CLI."""

from __future__ import annotations

import json
from pathlib import Path

from gitrepo import Repo, backfill, backfill_and_export, cli

from indexer.dataset.export import split_of
from indexer.dataset.splits import lineage_key, parse_ratios

CARGO = '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n'


def fn(name: str, n: int) -> str:
    return f"pub fn {name}(x: u64) -> u64 {{\n    let y = x * {n};\n    y + {n}\n}}\n"


def splits_by_item(records: list[dict]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for record in records:
        out.setdefault(record["name"], set()).add(record["split"])
    return out


def history(repo: Repo, items: int, versions: int) -> None:
    """`items` fns, each changed `versions - 1` times, one a commit: a split by commit
    scatters each item's versions."""
    version = {f"item{i}": 1 for i in range(items)}
    code = lambda: "".join(fn(n, v) for n, v in version.items())  # noqa: E731
    repo.commit({"Cargo.toml": CARGO, "src/lib.rs": code()}, "start")
    for v in range(2, versions + 1):
        for name in version:
            version[name] = v
            repo.commit({"src/lib.rs": code()}, f"{name} becomes version {v}")


def test_every_version_of_an_item_is_in_one_split(repo: Repo, tmp_path: Path) -> None:
    history(repo, items=12, versions=5)
    records, _ = backfill_and_export(repo, tmp_path / "lineage", "--keep", "clones")
    assert len(records) == 12 * 5
    assert all(len(s) == 1 for s in splits_by_item(records).values())
    by_commit, _ = backfill_and_export(
        repo, tmp_path / "commit", "--split", "commit", "--keep", "clones"
    )
    assert any(len(s) > 1 for s in splits_by_item(by_commit).values())  # what lineage fixes


def _name_in(split: str, start: int = 0) -> str:
    """An item name whose lineage (at src/lib.rs, in repo `repo`) goes to `split`."""
    for i in range(start, 10_000):
        name = f"thing{i}"
        if split_of(lineage_key("repo", ("src/lib.rs", "fn", name))) == split:
            return name
    raise AssertionError("no name found")


def test_the_split_follows_an_item_through_a_rename_a_move_and_a_revert(
    repo: Repo, tmp_path: Path
) -> None:
    name = _name_in("test")  # its lineage starts in src/lib.rs: test
    lib = "pub mod other;\n" + fn(name, 1)
    repo.commit({"Cargo.toml": CARGO, "src/lib.rs": lib, "src/other.rs": ""}, "start")
    # a move to another file, changed a little
    repo.commit({"src/lib.rs": "pub mod other;\n", "src/other.rs": fn(name, 2)}, "move it")
    # its file renamed (git mv), then the item changed
    repo.git("mv", "src/other.rs", "src/renamed.rs")
    repo.commit({"src/lib.rs": "pub mod renamed;\n"}, "rename the file")
    repo.commit({"src/renamed.rs": fn(name, 3)}, "change it again")
    # deleted, then added back by a revert of the deletion
    repo.commit({"src/renamed.rs": ""}, "drop it")
    repo.commit({"src/renamed.rs": fn(name, 3)}, "bring it back")
    records, _ = backfill_and_export(repo, tmp_path / "out", "--keep", "revert", "--keep", "clones")
    mine = [r for r in records if r["name"] == name]
    assert [r["path"] for r in mine] == [
        "src/lib.rs",
        "src/other.rs",
        "src/renamed.rs",
        "src/renamed.rs",
    ]
    assert {r["split"] for r in mine} == {"test"}


def test_new_commits_move_no_example(repo: Repo, tmp_path: Path) -> None:
    history(repo, items=8, versions=3)
    before, _ = backfill_and_export(repo, tmp_path / "before")
    for i in range(6):
        repo.commit({f"src/new{i}.rs": fn(f"fresh{i}", i)}, f"add fresh{i}")
    history_tail = "".join(fn(f"item{i}", 9) for i in range(8))
    repo.commit({"src/lib.rs": history_tail}, "every item changes")
    after, _ = backfill_and_export(repo, tmp_path / "after")
    was = {r["id"]: r["split"] for r in before}
    now = {r["id"]: r["split"] for r in after}
    assert was and all(now[i] == s for i, s in was.items() if i in now)
    assert len(set(was) & set(now)) == len(was)


def test_train_is_cleaned_of_clones_of_val_and_test_targets(repo: Repo, tmp_path: Path) -> None:
    original = _name_in("test")
    copy = _name_in("train")
    body = (
        "    let mut total = 0;\n    for step in 0..x {\n        total += step * step;\n"
        "    }\n    total\n}\n"
    )
    repo.commit(
        {"Cargo.toml": CARGO, "src/lib.rs": f"pub fn {original}(x: u64) -> u64 {{\n{body}"},
        "start",
    )
    pasted = f"pub fn {original}(x: u64) -> u64 {{\n{body}\npub fn {copy}(x: u64) -> u64 {{\n{body}"
    repo.commit({"src/lib.rs": pasted}, "a copy")
    records, manifest = backfill_and_export(repo, tmp_path / "out")
    assert [r["name"] for r in records] == [original]
    assert manifest["funnel"]["left_out"]["clones"] == 1
    kept, _ = backfill_and_export(repo, tmp_path / "kept", "--keep", "clones")
    assert sorted(r["name"] for r in kept) == sorted([original, copy])


def test_a_split_far_from_its_ratio_is_reported(repo: Repo, tmp_path: Path) -> None:
    history(repo, items=2, versions=6)  # two lineages: the splits cannot be 90/5/5
    backfill(repo)
    result = cli("export", tmp_path / "out", "--repo", repo.path)
    assert result.exit_code == 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["splits_off_ratio"]
    assert "warning:" in result.output and "not 90%" in result.output or "not 5%" in result.output


def test_ratios_are_configurable_and_checked(repo: Repo, tmp_path: Path) -> None:
    assert parse_ratios("0.8,0.1,0.1") == (("train", 0.8), ("validation", 0.1), ("test", 0.1))
    assert parse_ratios("train=0.8,val=0.1,test=0.1") == parse_ratios("0.8,0.1,0.1")
    history(repo, items=20, versions=1)
    records, manifest = backfill_and_export(repo, tmp_path / "out", "--ratios", "0.5,0.25,0.25")
    assert manifest["settings"]["ratios"] == {"train": 0.5, "validation": 0.25, "test": 0.25}
    bad = cli("export", tmp_path / "bad", "--repo", repo.path, "--ratios", "0.5,0.6")
    assert bad.exit_code != 0 and "error:" in bad.output and "hint:" in bad.output


def test_a_split_by_repo_puts_the_whole_repo_in_one_split(repo: Repo, tmp_path: Path) -> None:
    history(repo, items=6, versions=2)
    records, manifest = backfill_and_export(repo, tmp_path / "out", "--split", "repo")
    assert {r["split"] for r in records} == {split_of("repo")}
    assert manifest["settings"]["split"] == "repo"
    # `hash`, the name of the split by commit before issue 18, is refused by name
    by_hash = cli("export", tmp_path / "hash", "--repo", repo.path, "--split", "hash")
    assert by_hash.exit_code == 2 and "'hash' is not one of 'lineage', 'commit'" in by_hash.output
    by_commit, _ = backfill_and_export(repo, tmp_path / "commit", "--split", "commit")
    assert all(r["split"] == split_of(r["commit"]) for r in by_commit)


def test_one_export_over_two_repos_of_a_shared_store(tmp_path: Path) -> None:
    """`--repo` repeated: one export of repos backfilled into one store, each record
    naming its repo; a fork's copies of the first repo's items are duplicates or
    clones, so no target of validation or test is a train target."""
    import json

    from gitrepo import make_repo

    db = f"sqlite:///{tmp_path / 'shared.db'}"
    first = make_repo(tmp_path, "first")
    history(first, items=16, versions=3)
    fork = tmp_path / "fork"
    first.git("clone", "-q", str(first.path), str(fork))
    other = Repo(fork)
    other.clock = first.clock
    other.commit({"src/extra.rs": fn("extra", 1) + fn("more", 1)}, "extra")
    for repo in (first, other):
        assert cli("backfill", "--repo", repo.path, "--db", db).exit_code == 0
    out = tmp_path / "out"
    both = cli("export", out, "--repo", first.path, "--repo", other.path, "--db", db)
    assert both.exit_code == 0, both.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert [r["name"] for r in manifest["repos"]] == ["first", "fork"]
    assert manifest["repo"] == "first + fork"
    records = [
        json.loads(line)
        for split in ("train", "validation", "test")
        for line in (out / f"{split}.jsonl").read_text().splitlines()
    ]
    assert {r["repo"] for r in records} == {"first", "fork"}
    assert {r["name"] for r in records if r["repo"] == "fork"} >= {"extra", "more"}
    train = {" ".join(r["target"].split()) for r in records if r["split"] == "train"}
    held = [r for r in records if r["split"] != "train"]
    assert held and not any(" ".join(r["target"].split()) in train for r in held)
    assert manifest["funnel"]["commits"] == 2 * 33 + 1  # both histories, the fork's own
    left_out = manifest["funnel"]["left_out"]
    assert left_out.get("exact_duplicates", 0) + left_out.get("clones", 0) > 0
    # --all-repos: the store's other repos after the one given, the same export
    every = cli("export", tmp_path / "every", "--repo", first.path, "--all-repos", "--db", db)
    assert every.exit_code == 0, every.output
    assert (
        json.loads((tmp_path / "every" / "manifest.json").read_text())["repos"]
        == (manifest["repos"])
    )
    assert (tmp_path / "every" / "train.jsonl").read_bytes() == (out / "train.jsonl").read_bytes()
    # repos of two stores, or with a tokenizer of their own, are refused
    for repo in (first, other):
        assert cli("backfill", "--repo", repo.path).exit_code == 0  # each in its own
    apart = cli("export", tmp_path / "apart", "--repo", first.path, "--repo", other.path)
    assert apart.exit_code == 2 and "must share a store" in apart.output
    assert "--db URL" in apart.output
    assert (
        cli("tokenizer", "train", "--vocab-size", "400", "--repo", fork, "--db", db).exit_code == 0
    )
    own = cli("export", tmp_path / "own", "--repo", first.path, "--repo", fork, "--db", db)
    assert own.exit_code == 2 and "has a tokenizer of its own" in own.output
