"""The commit's own other edits as context: a definition in another file that the same
commit adds or changes is shown as the commit leaves it, under its own segment kind
(`edit_*`), and a model's template marks it. Real repositories, backfilled by the CLI."""

from __future__ import annotations

import json
import random
from pathlib import Path

from gitrepo import Repo, cli, stats

from indexer.rust.text import ELISION, old_variants
from indexer.store import open_target
from indexer.store.examples import StoredExample, commit_examples

CONFIG = "pub struct Config {\n    pub name: String,\n}\n"
LIB = "pub mod config;\npub mod report;\n"
REPORT = (
    "use crate::config::Config;\n\npub fn title(c: &Config) -> String {\n    c.name.clone()\n}\n"
)


def _examples(repo: Repo, rev: str = "HEAD") -> dict[str, StoredExample]:
    assert cli("backfill", "--repo", repo.path).exit_code == 0
    target = open_target(str(repo.path))
    try:
        oid = str(target.repo.revparse_single(rev).id)
        with target.store.connect() as conn:
            return {e.qualname: e for e in commit_examples(conn, target.repo_id, oid)}
    finally:
        target.close()


def _segments(example: StoredExample) -> dict[str, str]:
    return {kind: text for kind, text, _variants in example.segments}


def _start(repo: Repo) -> None:
    repo.commit(
        {
            "Cargo.toml": '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n',
            "src/lib.rs": LIB,
            "src/config.rs": CONFIG,
            "src/report.rs": REPORT,
        },
        "start",
    )


def test_a_field_added_in_the_same_commit_as_its_use_is_in_the_context(repo: Repo) -> None:
    _start(repo)
    repo.commit(
        {
            "src/config.rs": CONFIG.replace("String,\n", "String,\n    pub width: usize,\n"),
            "src/report.rs": REPORT.replace("c.name.clone()", 'format!("{:1$}", c.name, c.width)'),
        },
        "pad the title to the configured width",
    )
    segments = _segments(_examples(repo)["title"])
    assert "ctx_struct" not in segments
    assert "pub width: usize" in segments["edit_struct"]


def test_a_definition_the_commit_leaves_alone_stays_plain_context(repo: Repo) -> None:
    _start(repo)
    repo.commit({"src/report.rs": REPORT.replace("clone()", "to_uppercase()")}, "shout")
    segments = _segments(_examples(repo)["title"])
    assert "edit_struct" not in segments
    assert "pub name: String" in segments["ctx_struct"]


def test_a_type_another_file_of_the_same_commit_adds_is_found(repo: Repo) -> None:
    _start(repo)
    repo.commit(
        {
            "src/lib.rs": LIB + "pub mod style;\n",
            "src/style.rs": "pub enum Style {\n    Plain,\n    Bold,\n}\n",
            "src/report.rs": REPORT + "\npub fn styled(s: crate::style::Style) -> bool {\n"
            "    matches!(s, crate::style::Style::Bold)\n}\n",
        },
        "styles",
    )
    example = _examples(repo)["styled"]
    assert "Style -> src/style.rs::Style" in " ".join(example.resolved)
    assert "Bold," in _segments(example)["edit_enum"]


PARSE = (
    "pub fn parse(text: &str) -> Vec<u32> {\n"
    "    let mut out = Vec::new();\n"
    "    for word in text.split(',') {\n"
    "        out.push(word.trim().parse().unwrap());\n"
    "    }\n"
    "    out\n"
    "}\n"
)


def test_a_fn_moved_to_another_file_is_modified_with_its_old_code(repo: Repo) -> None:
    repo.commit({"src/lib.rs": "mod a;\nmod b;\n", "src/a.rs": PARSE, "src/b.rs": ""}, "start")
    repo.commit(
        {"src/a.rs": "", "src/b.rs": PARSE.replace(".unwrap()", ".unwrap_or(0)")},
        "move parse to b, and default bad words to 0",
    )
    example = _examples(repo)["parse"]
    assert (example.path, example.change) == ("src/b.rs", "modified")
    assert _segments(example)["old"] == PARSE.rstrip("\n")


def test_a_fn_moved_unchanged_is_a_moved_example_that_says_where_it_came_from(
    repo: Repo,
) -> None:
    """Kept (typed `moved`, left out of exports by default) so that the split of its
    history can follow it to its new file."""
    repo.commit({"src/lib.rs": "mod a;\nmod b;\n", "src/a.rs": PARSE, "src/b.rs": ""}, "start")
    repo.commit({"src/a.rs": None, "src/b.rs": "\n" + PARSE}, "move parse to b")
    example = _examples(repo)["parse"]
    assert (example.edit_type, example.origin) == ("moved", ("src/a.rs", "parse"))
    assert "1 moved" in cli("stats", "--repo", repo.path).output


def test_a_new_fn_of_the_same_name_but_another_body_is_added(repo: Repo) -> None:
    repo.commit({"src/lib.rs": "mod a;\nmod b;\n", "src/a.rs": PARSE, "src/b.rs": ""}, "start")
    other = "pub fn parse(text: &str) -> bool {\n    text.is_empty()\n}\n"
    repo.commit({"src/a.rs": "", "src/b.rs": other}, "replace parse")
    example = _examples(repo)["parse"]
    assert (example.path, example.change) == ("src/b.rs", "added")
    assert "(not examples: 1 deleted)" in stats(repo)["examples"]


def test_long_old_code_keeps_the_changed_lines_when_it_does_not_fit(
    repo: Repo, tmp_path: Path
) -> None:
    body = "".join(f"    let step_{i} = input.len() * {i};\n" for i in range(120))
    old = f"pub fn long(input: &str) -> usize {{\n{body}    0\n}}\n"
    repo.commit({"src/lib.rs": old}, "start")
    new = old.replace("* 60;", "* 61;")
    repo.commit({"src/lib.rs": new}, "one step is off by one")
    assert cli("backfill", "--repo", repo.path).exit_code == 0
    out = tmp_path / "out"
    result = cli("export", out, "--repo", repo.path, "--max-tokens", "2048", "--split", "time")
    assert result.exit_code == 0, result.output
    [record] = [
        r
        for split in ("train", "validation", "test")
        for line in (out / f"{split}.jsonl").read_text().splitlines()
        if (r := json.loads(line))["parent"]
    ]
    assert record["target"] == new.rstrip("\n")
    [old_segment] = [s["text"] for s in record["segments"] if s["kind"] == "old"]
    lines = old_segment.splitlines()
    assert lines[0] == "pub fn long(input: &str) -> usize {" and lines[-1] == "}"
    assert "    let step_60 = input.len() * 60;" in lines
    assert "    // ..." in lines and len(lines) < 20
    assert all(line in old.splitlines() for line in lines if line != "    // ...")


def test_old_code_variants_are_old_lines_in_order_with_elisions() -> None:
    rng = random.Random(7)
    for _ in range(200):
        body = [
            f"    let v{i} = {rng.randrange(1000)};\r\n" if i % 9 == 0 else f"    step({i});\n"
            for i in range(rng.randrange(160, 300))
        ]
        old = "/// Docs.\n#[inline]\npub fn f() {\n" + "".join(body) + "}"
        edited = body[:]
        for _edit in range(rng.randrange(1, 4)):
            at = rng.randrange(len(edited))
            choice = rng.randrange(3)
            if choice == 0:
                edited.insert(at, "    new_call();\n")
            elif choice == 1:
                del edited[at]
            else:
                edited[at] = "    changed(\u00e9);\n"
        new = "/// Docs.\n#[inline]\npub fn f() {\n" + "".join(edited) + "}"
        variants = old_variants(old, new)
        assert variants and all(
            len(a) > len(b) for a, b in zip((old, *variants), variants, strict=False)
        )
        old_lines = old.splitlines(keepends=True)
        for variant in variants:
            lines = variant.splitlines(keepends=True)
            assert "pub fn f() {\n" in lines and lines[-1] == "}"  # its header and last line
            kept = [line for line in lines if line.strip() != ELISION]
            it = iter(old_lines)
            assert all(line in it for line in kept)  # a subsequence of the old lines


def test_show_says_which_names_resolved_where_and_why_the_others_did_not(repo: Repo) -> None:
    _start(repo)
    repo.commit(
        {
            "src/report.rs": REPORT.replace(
                "c.name.clone()",
                "let _: Vec<u8> = Vec::new();\n    println!();\n    Missing::x(c.name.clone())",
            ).replace(
                "use crate::config::Config;", "use crate::config::Config;\nuse serde::Missing;"
            )
        },
        "more names",
    )
    assert cli("backfill", "--repo", repo.path).exit_code == 0
    result = cli("show", "HEAD", "--repo", repo.path, "--path", "src/report.rs")
    assert result.exit_code == 0, result.output
    assert "resolved: Config -> src/config.rs::Config" in result.output
    assert "unresolved, external: serde: Missing" in result.output
    assert "unresolved, external: std: Vec::new, println!" in result.output  # the prelude
    assert "not found" not in result.output
