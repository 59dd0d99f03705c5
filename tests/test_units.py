"""Commit units (`export --unit commit`, issue 20): one example per commit, its items'
targets in file and position order, a commit too big for the budget cut into parts by
file, each unit within one split, and nothing the unit's targets say shown before them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gitrepo import Repo, backfill, backfill_and_export, cli, make_repo
from test_model_tokenizers import qwen_like
from test_splits import CARGO, history
from test_tokenizer import rust_files, train_hf

from indexer.dataset.edits import NATIVE_MARKERS, apply_blocks, parse_blocks, with_newline
from indexer.dataset.tokenizer import END, STARCODER_TOKENS


def _fn(name: str, value: int, lines: int = 4) -> str:
    body = "".join(f"    let {name}_{i} = {value} + {i};\n" for i in range(lines))
    return f"pub fn {name}() -> u32 {{\n{body}    {name}_0\n}}\n\n"


def _three_files(repo: Repo) -> str:
    """A commit changing three files, in a.rs `zeta` before `alpha` (position order is
    not name order); its oid."""

    def files(v: int) -> dict[str, str]:
        return {
            "Cargo.toml": CARGO,
            "src/lib.rs": "pub mod a;\npub mod b;\npub mod c;\n",
            "src/a.rs": _fn("zeta", v) + _fn("alpha", v),
            "src/b.rs": _fn("beta", v),
            "src/c.rs": _fn("gamma", v),
        }

    repo.commit(files(1), "Add the numbers")
    return repo.commit(files(2), "Count from two\n\nEvery number starts one higher.")


def _units_of(records: list[dict], commit: str) -> list[dict]:
    return [r for r in records if r["commit"] == commit]


def test_a_commit_unit_holds_its_items_in_file_and_position_order(
    repo: Repo, tmp_path: Path
) -> None:
    oid = _three_files(repo)
    records, manifest = backfill_and_export(
        repo, tmp_path / "out", "--unit", "commit", "--split", "commit", "--keep", "clones"
    )
    (unit,) = _units_of(records, oid)
    assert unit["kind"] == "commit" and unit["path"] == "src/a.rs\nsrc/b.rs\nsrc/c.rs"
    completion = unit["completion"]
    order = [completion.index(f"let {n}_0 = 2") for n in ("zeta", "alpha", "beta", "gamma")]
    assert order == sorted(order)
    assert manifest["settings"]["unit"] == "commit" and manifest["settings"]["target"] == "edit"
    assert manifest["units"]["items"] == sum(r["target"].count(NATIVE_MARKERS[2]) for r in records)
    # the message once, before the targets; every old code before the targets too
    assert unit["prompt"].count("Count from two") == 1
    assert unit["prompt"].count("<|old|>") == 4
    # each target's blocks apply to its old code, as the prompt shows it
    blocks = parse_blocks(unit["target"], NATIVE_MARKERS)  # the native tokenizer's
    assert blocks is not None and len(blocks) == 4
    olds = [s["text"] for s in unit["segments"] if s["kind"] == "old"]
    for old, block in zip(olds, blocks, strict=True):
        assert apply_blocks(with_newline(old), (block,)) is not None
    # the labels are the blocks and the end token, not the paths between them
    from tokenizers import Tokenizer as HF

    tok = HF.from_file(str(tmp_path / "out" / "tokenizer.json"))
    learnt = [i for i in unit["labels"] if i != -100]
    assert tok.decode(learnt, skip_special_tokens=False) == unit["target"] + END
    assert "src/b.rs" not in tok.decode(learnt, skip_special_tokens=False)
    assert unit["prompt"] + unit["completion"] == unit["text"]


@pytest.mark.parametrize("family", ["starcoder", "plain"])
def test_a_commit_units_labels_are_its_targets_in_every_template(
    repo: Repo, tmp_path: Path, family: str
) -> None:
    oid = _three_files(repo)
    backfill(repo)
    if family == "starcoder":
        path = train_hf(tmp_path / "sc.json", rust_files(), STARCODER_TOKENS)
    else:
        path = qwen_like(tmp_path / "qwen.json")
    assert cli("tokenizer", "use", path, "--repo", repo.path).exit_code == 0
    for target in ("edit", "item"):
        out = tmp_path / f"out-{family}-{target}"
        result = cli(
            "export", out, "--repo", repo.path, "--unit", "commit", "--target", target,
            "--split", "commit", "--keep", "clones",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        records = [json.loads(line) for f in out.glob("*.jsonl") for line in f.open()]
        (unit,) = _units_of(records, oid)
        from tokenizers import Tokenizer as HF

        tok = HF.from_file(str(out / "tokenizer.json"))
        end = "<|endoftext|>"
        learnt = tok.decode([i for i in unit["labels"] if i != -100], skip_special_tokens=False)
        if target == "edit":
            assert learnt == unit["target"] + end
        else:  # each item's new code, a line end between two
            assert learnt.replace("\n", "") == unit["target"].replace("\n", "") + end
            assert learnt.count("pub fn ") == 4
        assert tok.decode(unit["input_ids"], skip_special_tokens=False) == unit["text"] + end


def test_a_commit_too_big_is_cut_into_parts_by_file(repo: Repo, tmp_path: Path) -> None:
    def files(v: int) -> dict[str, str]:
        return {
            "Cargo.toml": CARGO,
            "src/lib.rs": "pub mod a;\npub mod b;\npub mod c;\npub mod huge;\n",
            **{f"src/{n}.rs": _fn(f"f_{n}", v, 30) for n in "abc"},
            "src/huge.rs": _fn("huge", v, 150),
        }

    repo.commit(files(1), "Add the numbers")
    oid = repo.commit(files(2), "Count from two")
    items, _ = backfill_and_export(
        repo,
        tmp_path / "items",
        "--target",
        "edit",
        "--split",
        "commit",
        "--keep",
        "clones",
        "--max-tokens",
        "8192",
    )
    sizes = {r["path"]: r["n_tokens"] for r in _units_of(items, oid)}
    budget = max(sizes[f"src/{n}.rs"] for n in "abc") + 60
    assert sizes["src/huge.rs"] > budget
    assert sum(sizes[f"src/{n}.rs"] for n in "abc") > budget + 100  # not all three at once
    records, manifest = backfill_and_export(
        repo, tmp_path / "units", "--unit", "commit", "--split", "commit", "--keep", "clones",
        "--max-tokens", str(budget),
    )  # fmt: skip
    parts = _units_of(records, oid)
    assert 2 <= len(parts) <= 3
    assert all(r["n_tokens"] <= budget for r in parts)
    assert [r["qualname"] for r in parts] == [f"(part {k} of {len(parts)})" for k in range(1, 4)][
        : len(parts)
    ]
    assert all(r["qualname"] in r["prompt"] for r in parts)
    files_in = [p for r in parts for p in r["path"].split("\n")]
    assert files_in == ["src/a.rs", "src/b.rs", "src/c.rs"]  # each once, in order
    # huge.rs, too big alone, in both commits
    assert manifest["funnel"]["left_out"]["unit_item_too_long"] == 2
    assert manifest["units"]["commits_in_parts"] >= 1


def test_a_unit_never_holds_two_splits_and_leaks_no_lineage(repo: Repo, tmp_path: Path) -> None:
    """Each commit changes 12 items of 12 lineages: their splits differ, so the commit
    makes a unit per split, each with only that split's items."""
    version = {f"item{i}": 1 for i in range(12)}
    code = lambda: "".join(_fn(n, v) for n, v in version.items())  # noqa: E731
    repo.commit({"Cargo.toml": CARGO, "src/lib.rs": code()}, "start")
    for v in range(2, 5):
        version = dict.fromkeys(version, v)
        repo.commit({"src/lib.rs": code()}, f"everything becomes version {v}")
    items, _ = backfill_and_export(repo, tmp_path / "items", "--target", "edit", "--keep", "bulk")
    units, _ = backfill_and_export(repo, tmp_path / "units", "--unit", "commit", "--keep", "bulk")
    split_of_item = {(r["commit"], r["completion"]): r["split"] for r in items}
    assert len(set(split_of_item.values())) > 1  # the items do fall in different splits
    seen = 0
    for unit in units:
        blocks = parse_blocks(unit["target"], NATIVE_MARKERS)
        assert blocks is not None
        for (commit, completion), split in split_of_item.items():
            if commit == unit["commit"] and completion in unit["target"]:
                assert split == unit["split"], "an item in a unit of another split"
                seen += 1
    assert seen == len(items)  # every item in a unit of its own split
    by_commit: dict[str, set[str]] = {}
    for unit in units:
        by_commit.setdefault(unit["commit"], set()).add(unit["split"])
    assert any(len(s) > 1 for s in by_commit.values())  # a commit, a unit in each split


def test_a_definition_the_unit_itself_changes_is_not_shown_as_the_commit_leaves_it(
    repo: Repo, tmp_path: Path
) -> None:
    model = "pub struct User {\n    pub name: String,\n{}}}\n"
    use = (
        "use crate::model::User;\n\npub fn show(u: &User) -> String {{\n"
        "    let n = &u.name;\n{}    n.clone()\n}}\n"
    )
    repo.commit(
        {
            "Cargo.toml": CARGO,
            "src/lib.rs": "pub mod model;\npub mod view;\n",
            "src/model.rs": model.replace("{}", ""),
            "src/view.rs": use.format("").replace("{{", "{").replace("}}", "}"),
        },
        "Add users",
    )
    oid = repo.commit(
        {
            "src/model.rs": model.replace("{}", "    pub age: u32,\n"),
            "src/view.rs": use.format("    let _a = u.age;\n")
            .replace("{{", "{")
            .replace("}}", "}"),
        },
        "Users have an age",
    )
    items, _ = backfill_and_export(
        repo, tmp_path / "items", "--split", "commit", "--keep", "clones"
    )
    (view,) = [r for r in _units_of(items, oid) if r["path"] == "src/view.rs"]
    assert "pub age: u32" in view["prompt"]  # the item example shows the struct as it is now
    units, _ = backfill_and_export(
        repo, tmp_path / "units", "--unit", "commit", "--split", "commit", "--keep", "clones"
    )
    (unit,) = _units_of(units, oid)
    assert "pub age: u32" not in unit["prompt"]  # it is the unit's own answer
    assert "pub age: u32" in unit["completion"]


def test_show_prints_a_commit_as_one_unit(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    oid = _three_files(repo)
    backfill(repo)
    shown = cli("show", oid, "--repo", repo.path, "--unit", "commit")
    assert shown.exit_code == 0, shown.output
    text = shown.output
    assert text.index("src/a.rs") < text.index("src/b.rs") < text.index("src/c.rs")
    assert text.count("<<<<<<< SEARCH") == 4
    assert text.index("pub fn zeta") < text.index("pub fn alpha")
    as_json = cli("show", oid, "--repo", repo.path, "--unit", "commit", "--json")
    assert json.loads(as_json.output)["unit"].count(">>>>>>> REPLACE") == 4


def test_units_of_a_longer_history(repo: Repo, tmp_path: Path) -> None:
    """Every exported item is in one unit; a unit is never over the budget."""
    history(repo, items=8, versions=3)
    items, _ = backfill_and_export(repo, tmp_path / "items", "--target", "edit")
    units, manifest = backfill_and_export(repo, tmp_path / "units", "--unit", "commit")
    assert manifest["units"]["items"] == len(items)
    assert all(u["n_tokens"] <= 2048 for u in units)
