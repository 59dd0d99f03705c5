"""Edit targets (issue 20's first part): search/replace blocks of whole lines that
apply back to the new code exactly, over random edits of real-looking Rust."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from test_tokenizer import rust_files

from indexer.dataset.edits import (
    Block,
    apply_blocks,
    edit_blocks,
    occurrences,
    parse_blocks,
    render_blocks,
    with_newline,
)

LINES = [line for text in rust_files(6) for line in text.splitlines()]


def _item(rng: random.Random) -> list[str]:
    start = rng.randrange(len(LINES) - 40)
    return LINES[start : start + rng.randrange(3, 40)]


def _edited(rng: random.Random, lines: list[str]) -> list[str]:
    """A few random edits: insert, delete, replace, move lines; tabs and Unicode."""
    lines = list(lines)
    for _ in range(rng.randrange(1, 4)):
        kind = rng.choice(["insert", "delete", "replace", "move", "unicode", "tabs"])
        at = rng.randrange(len(lines) + 1)
        if kind == "insert":
            lines[at:at] = rng.sample(LINES, rng.randrange(1, 4))
        elif kind == "delete" and len(lines) > 1:
            del lines[min(at, len(lines) - 1)]
        elif kind == "replace" and lines:
            lines[min(at, len(lines) - 1)] = rng.choice(LINES)
        elif kind == "move" and len(lines) > 2:
            moved = lines.pop(min(at, len(lines) - 1))
            lines.insert(rng.randrange(len(lines) + 1), moved)
        elif kind == "unicode" and lines:
            lines[min(at, len(lines) - 1)] += " // 二回 🦀 é"
        elif kind == "tabs" and lines:
            i = min(at, len(lines) - 1)
            lines[i] = lines[i].replace("    ", "\t")
    return lines


@pytest.mark.parametrize("seed", range(1000))
def test_random_edits_apply_back_exactly(seed: int) -> None:
    rng = random.Random(seed)
    end = "\r\n" if seed % 5 == 0 else "\n"  # CRLF files too
    old_lines = _item(rng)
    old = end.join(old_lines)  # an item's code: no final line end
    new = end.join(_edited(rng, old_lines))
    edits = edit_blocks(old, new)
    assert apply_blocks(with_newline(old), edits.blocks) == with_newline(new)
    assert not edits.whole
    for block in edits.blocks:
        assert occurrences(block.search, with_newline(old)) == 1  # found once
        assert block.search.endswith("\n")  # whole lines
        assert block.replace == "" or block.replace.endswith("\n")
    assert parse_blocks(render_blocks(edits)) == edits.blocks
    if old != new:  # smaller than the whole item, unless the edit touched most of it
        changed = sum(b.search.count("\n") for b in edits.blocks)
        assert changed <= old.count("\n") + 1


def test_a_search_found_twice_grows_until_it_is_unique() -> None:
    old = "fn f() {\n    x += 1;\n    y();\n    x += 1;\n    z();\n}"
    new = old.replace("    x += 1;\n    z();", "    x += 2;\n    z();")
    (block,) = edit_blocks(old, new).blocks
    assert block.search == "    y();\n    x += 1;\n"  # `x += 1;` alone is there twice
    assert block.replace == "    y();\n    x += 2;\n"
    assert apply_blocks(with_newline(old), (block,)) == with_newline(new)


def test_one_changed_line_is_one_small_block() -> None:
    body = "".join(f"    let v{i} = {i};\n" for i in range(50))
    old = f"fn big() {{\n{body}}}"
    new = old.replace("let v25 = 25;", "let v25 = 250;")
    (block,) = edit_blocks(old, new).blocks
    assert block == Block("    let v25 = 25;\n", "    let v25 = 250;\n")
    assert render_blocks(edit_blocks(old, new)) == (
        "<<<<<<< SEARCH\n    let v25 = 25;\n=======\n    let v25 = 250;\n>>>>>>> REPLACE\n"
    )


def test_an_added_item_is_one_block_with_an_empty_search() -> None:
    edits = edit_blocks("", "pub fn new() {}")
    assert edits.blocks == (Block("", "pub fn new() {}\n"),)
    assert apply_blocks("", edits.blocks) == "pub fn new() {}\n"
    assert apply_blocks("x\n", edits.blocks) is None  # only where there was nothing


def test_a_block_that_would_not_apply_is_refused() -> None:
    old = "a\nb\na\nb\n"
    assert apply_blocks(old, (Block("a\nb\n", "c\n"),)) is None  # found twice
    assert apply_blocks(old, (Block("q\n", "c\n"),)) is None  # not found
    assert parse_blocks("not blocks") is None


def test_show_prints_the_blocks_as_the_model_sees_them(tmp_path: Path) -> None:
    from gitrepo import backfill, cli, make_repo

    repo = make_repo(tmp_path)
    body = "".join(f"    let v{i} = {i};\n" for i in range(20))
    repo.commit({"src/lib.rs": f"pub fn big() {{\n{body}}}\n"}, "Add big")
    repo.commit({"src/lib.rs": f"pub fn big() {{\n{body.replace('v7 = 7', 'v7 = 70')}}}\n"}, "7")
    backfill(repo)
    shown = cli("show", "HEAD", "--repo", repo.path, "--target", "edit")
    assert shown.exit_code == 0, shown.output
    blocks = "<<<<<<< SEARCH\n    let v7 = 7;\n=======\n    let v7 = 70;\n>>>>>>> REPLACE\n"
    assert blocks in shown.output
    assert "let v8 = 8;" not in shown.output.split("<target>")[1]


def test_the_native_tokenizer_writes_its_own_block_markers(tmp_path: Path) -> None:
    """With the native tokenizer each marker is one token of its own; a model's
    tokenizer without them (here a Qwen-like one, plain template) gets aider's text."""
    import json

    from gitrepo import backfill, cli, make_repo
    from test_model_tokenizers import qwen_like

    from indexer.dataset.edits import NATIVE_MARKERS
    from indexer.dataset.tokenizer import load_tokenizer

    repo = make_repo(tmp_path)
    body = "".join(f"    let v{i} = {i};\n" for i in range(20))
    repo.commit({"src/lib.rs": f"pub fn big() {{\n{body}}}\n"}, "Add big")
    repo.commit({"src/lib.rs": f"pub fn big() {{\n{body.replace('v7 = 7', 'v7 = 70')}}}\n"}, "7")
    backfill(repo)

    def export(name: str) -> dict:
        out = tmp_path / name
        result = cli("export", out, "--repo", repo.path, "--target", "edit", "--split", "commit")
        assert result.exit_code == 0, result.output
        (record,) = [
            json.loads(line)
            for f in out.glob("*.jsonl")
            for line in f.open()
            if json.loads(line)["change"] == "modified"
        ]
        return record

    native = export("native")
    assert parse_blocks(native["completion"], NATIVE_MARKERS) is not None
    tok = load_tokenizer(tmp_path / "native" / "tokenizer.model")
    for marker in NATIVE_MARKERS:
        assert native["input_ids"].count(tok.token_id(marker.strip())) == 1
    assert (
        cli("tokenizer", "use", qwen_like(tmp_path / "q.json"), "--repo", repo.path).exit_code == 0
    )
    plain = export("plain")
    assert parse_blocks(plain["completion"]) is not None  # aider's markers
