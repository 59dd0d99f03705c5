"""Curation: what an export leaves out and why, each filter counted and switchable;
messages cleaned; container targets without their members; the context ablations.
Real repositories, backfilled and exported by the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from gitrepo import Repo, backfill_and_export, cli

from indexer.messages import clean, left_out
from indexer.rust.tokens import edit_type

CARGO = '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n'


def by_name(records: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for record in records:
        out.setdefault(record["qualname"], []).append(record)
    return out


def segments(record: dict) -> dict[str, str]:
    return {s["kind"]: s["text"] for s in record["segments"]}


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("fn f(x : u8) -> u8 { x }", "fn f(x: u8) -> u8 {\n    x\n}", "formatting"),
        ("call(a, b)", "call(\n    a,\n    b,\n)", "formatting"),  # rustfmt's trailing comma
        (  # rustfmt's where clause, with its trailing comma
            "fn f<F>(g: F) where F: Fn() -> bool\n{\n    g()\n}",
            "fn f<F>(g: F)\nwhere\n    F: Fn() -> bool,\n{\n    g()\n}",
            "formatting",
        ),
        ("fn f<T>() where T: A, {}", "fn f<T>() where T: B, {}", "code"),
        ("fn f() { 1 } // one", "fn f() { 1 } // the one", "comments"),
        ("/// Doc.\nfn f() {}", "/// More doc.\nfn f() {}", "comments"),
        ('fn f() { g("a b") }', 'fn f() { g("ab") }', "code"),  # a literal's spaces
        ("fn f() { a + b }", "fn f() { a - b }", "code"),
        ("fn f() { a + b }", "fn f() { a+b }", "formatting"),
        ("let x = y;", "let x = yy;", "code"),
        ('let u = "http://a";', 'let u = "http://b";', "code"),  # `//` in a string
        ('let u = r#"// x"#;', 'let u = r#"// y"#;', "code"),
        ("/* a /* b */ c */ fn f() {}", "/* a /* b */ d */ fn f() {}", "comments"),  # nested
        ("/* a /* b */ c */ fn f() {}", "/* a /* b */ c */ fn g() {}", "code"),
        ("let c = '\"'; f(1)", "let c = '\"'; f(2)", "code"),
        ("pub fn f() {}", "pubfn f() {}", "code"),
    ],
)
def test_an_edit_is_typed_by_rust_tokens(old: str, new: str, expected: str) -> None:
    assert edit_type(old, new) == expected


def test_messages_are_cleaned_as_commitchronicle_does() -> None:
    message = (
        "Fix the parser (#123), see https://github.com/o/r/issues/9\n"
        "\n"
        "Thanks @alice for the report; GH-77 and PROJ-12 track it.\n"
        "Reverts 1a2b3c4d5e and keeps <email> out.\n"
        "\n"
        "Signed-off-by: Bob <email>\n"
        "Co-authored-by: Carol <carol@example.com>\n"
    )
    text = clean(message)
    assert text.splitlines()[0] == "Fix the parser"
    for gone in ("#123", "https://", "@alice", "GH-77", "PROJ-12", "1a2b3c4d5e", "<email>"):
        assert gone not in text
    assert "Signed-off-by" not in text and "Co-authored-by" not in text
    assert "Thanks for the report" in text  # the words around stay
    assert clean("Update for @bob's comments") == "Update for comments"
    assert clean("Add the attribute as described in #123.") == "Add the attribute."
    # a line of references goes whole, a sentence of them alone
    assert clean("Impl Log for refs\n\nCloses #458. Implements Log for &T.\nFixes #1, #2.") == (
        "Impl Log for refs\n\nImplements Log for &T."
    )
    assert clean("Rewrite\n\nCloses #57, Closes #83\nFixes #1 and fixes #2.") == "Rewrite"
    assert clean("Move it aside\n\nAs memchr did[1].\n\n[1]: https://github.com/o/r/blob/x\n") == (
        "Move it aside\n\nAs memchr did."
    )
    assert clean("  Indented subject\n\n  - a list item") == "Indented subject\n\n  - a list item"
    assert (
        clean("Bump x to 1.2.3\n\nSee 2024-01-02 notes")
        == "Bump x to 1.2.3\n\nSee 2024-01-02 notes"
    )


@pytest.mark.parametrize(
    ("author", "message", "reason"),
    [
        ("dependabot[bot]", "Bump serde from 1.0 to 1.1", "bot"),
        ("renovate-bot", "Update rust crate foo", "bot"),
        ("Ann", 'Revert "add the cache"\n\nThis reverts commit abc.', "revert"),
        ("Ann", "fixup! add the cache", "fixup"),
        ("Ann", "squash! add the cache", "fixup"),
        ("Ann", "WIP", "wip"),
        ("Ann", "", "empty_message"),
        ("Ann", "Signed-off-by: Ann <email>", "empty_message"),
        ("Ann", "Bump version to 0.4.2", "trivial_message"),
        ("Ann", "Update CHANGELOG", "trivial_message"),
        ("Ann", "Initial commit", "trivial_message"),
        ("Ann", "Run cargo fix --edition-idioms", "trivial_message"),
        ("Ann", "Update for @alexcrichton's comments", "trivial_message"),
        ("Ann", "Address review feedback", "trivial_message"),
        ("Ann", "Add the cache", None),
        ("Ann", "clippy: use is_empty", None),  # a clippy fix is a real edit
        ("Robert", "Fix the parser", None),
    ],
)
def test_commits_left_out_by_author_and_message(author: str, message: str, reason: str) -> None:
    assert left_out(author, message) == reason


FNS = "".join(
    f"pub fn f{i}(x: u32) -> u32 {{\n    let y = x + {i};\n    y * 2\n}}\n\n" for i in range(3)
)


def test_formatting_and_comment_only_edits_are_stored_typed_and_left_out(
    repo: Repo, tmp_path: Path
) -> None:
    repo.commit({"Cargo.toml": CARGO, "src/lib.rs": FNS}, "start")
    repo.commit({"src/lib.rs": FNS.replace("x + 0;", "x+0 ;")}, "rustfmt everything")
    repo.commit(
        {
            "src/lib.rs": FNS.replace("x + 0;", "x+0 ;").replace(
                "    y * 2\n}\n\n", "    y * 2 // twice\n}\n\n", 1
            )
        },
        "say why",
    )
    repo.commit({"src/lib.rs": FNS.replace("x + 0;", "x + 1000;")}, "a real change")
    records, manifest = backfill_and_export(repo, tmp_path / "out")
    messages = sorted(segments(r)["msg"] for r in records if r["change"] == "modified")
    assert messages == ["a real change"]  # not the formatting nor the comment
    left = manifest["funnel"]["left_out"]
    assert left["formatting"] == 1 and left["comments"] == 1
    shown = cli("stats", "--repo", repo.path).output
    assert "edits      4 code, 1 formatting, 1 comments" in shown, shown
    assert "curated    4 of 6 to export by default" in shown, shown
    kept, _manifest = backfill_and_export(
        repo, tmp_path / "kept", "--keep", "formatting", "--keep", "comments"
    )
    assert len(kept) == len(records) + 2


def test_a_bulk_commit_is_capped_the_same_way_every_time(repo: Repo, tmp_path: Path) -> None:
    many = "".join(f"pub fn g{i}() -> u32 {{\n    {i}\n}}\n" for i in range(70))
    repo.commit({"Cargo.toml": CARGO, "src/lib.rs": many}, "import everything")
    records, manifest = backfill_and_export(repo, tmp_path / "a")
    assert len(records) == 64 and manifest["funnel"]["left_out"]["bulk"] == 6
    again, _ = backfill_and_export(repo, tmp_path / "b")
    assert sorted(r["id"] for r in again) == sorted(r["id"] for r in records)
    five, _ = backfill_and_export(repo, tmp_path / "c", "--max-per-commit", "5")
    assert len(five) == 5 and {r["id"] for r in five} <= {r["id"] for r in records}
    every, _ = backfill_and_export(repo, tmp_path / "d", "--keep", "bulk")
    assert len(every) == 70


IMPL = (
    "pub struct S;\n\nimpl S {\n    pub fn one(&self) -> u8 {\n        1\n    }\n\n"
    "    pub fn two(&self) -> u8 {\n        2\n    }\n}\n"
)


def test_a_container_target_never_holds_a_member_cut_to_its_header(
    repo: Repo, tmp_path: Path
) -> None:
    repo.commit({"Cargo.toml": CARGO, "src/lib.rs": IMPL}, "start")
    changed = IMPL.replace("impl S {", "#[allow(dead_code)]\nimpl S {").replace("1\n", "10\n")
    repo.commit({"src/lib.rs": changed}, "allow dead code, one is ten")
    records, _ = backfill_and_export(
        repo, tmp_path / "out", "--keep", "shell"
    )  # `impl S {}` is one
    for record in records:
        assert "{ .. }" not in record["target"], record["target"]
    latest = {r["qualname"]: r for r in records if segments(r)["msg"].startswith("allow")}
    assert latest["impl S"]["target"] == "#[allow(dead_code)]\nimpl S {\n}"
    assert "10" in latest["impl S::one"]["target"]
    assert "impl S::two" not in latest  # unchanged


def test_trivial_targets_and_unchanged_moves_are_left_out(repo: Repo, tmp_path: Path) -> None:
    body = "pub fn long() -> u8 {\n    let a = 1;\n    a\n}\n"
    repo.commit(
        {
            "Cargo.toml": CARGO,
            "src/lib.rs": "pub mod a;\npub mod b;\n",
            "src/a.rs": body,
            "src/b.rs": "pub const ONE: u8 = 1;\n",
        },
        "start",
    )
    repo.commit({"src/a.rs": "", "src/b.rs": "pub const ONE: u8 = 1;\n" + body}, "move long to b")
    records, manifest = backfill_and_export(repo, tmp_path / "out")
    assert "ONE" not in by_name(records)  # one line
    assert [segments(r)["msg"] for r in by_name(records)["long"]] == ["start"]
    left = manifest["funnel"]["left_out"]
    assert left["trivial"] >= 1 and left["moved"] == 1
    every, _ = backfill_and_export(
        repo, tmp_path / "all", "--keep", "trivial", "--keep", "moved", "--min-lines", "1"
    )
    assert len(by_name(every)["long"]) == 2 and "ONE" in by_name(every)


def test_commits_of_bots_reverts_and_fixups_are_left_out(repo: Repo, tmp_path: Path) -> None:
    repo.commit({"Cargo.toml": CARGO, "src/lib.rs": FNS}, "start")
    repo.commit({"src/lib.rs": FNS.replace("+ 1;", "+ 11;")}, "fixup! start")
    repo.write({"src/lib.rs": FNS.replace("+ 2;", "+ 22;")})
    repo.git("add", "-A")
    bot = "dependabot[bot] <49699333+dependabot[bot]@users.noreply.github.com>"
    repo.git("commit", "-q", "--author", bot, "-m", "Bump the numbers")
    repo.commit({"src/lib.rs": FNS.replace("+ 2;", "+ 3;")}, 'Revert "Bump the numbers"')
    records, manifest = backfill_and_export(repo, tmp_path / "out")
    assert {segments(r)["msg"] for r in records} == {"start"}
    left = manifest["funnel"]["left_out"]
    assert left["fixup"] == 1 and left["bot"] == 2 and left["revert"] == 1  # f1 back, f2
    card = (tmp_path / "out" / "README.md").read_text()
    assert "## From commits to examples" in card and "reverts" in card


def test_the_message_segment_is_cleaned_and_can_be_the_subject_only(
    repo: Repo, tmp_path: Path
) -> None:
    repo.commit({"Cargo.toml": CARGO, "src/lib.rs": FNS}, "start")
    message = (
        "Make f1 faster (#42)\n\nIt was slow, see https://example.com/x.\n\n"
        "Signed-off-by: Ann <ann@example.com>"
    )
    repo.commit({"src/lib.rs": FNS.replace("x + 1;", "x | 1;")}, message)
    records, _ = backfill_and_export(repo, tmp_path / "out")
    (f1,) = [r for r in by_name(records)["f1"] if r["change"] == "modified"]
    assert segments(f1)["msg"] == "Make f1 faster\n\nIt was slow."
    subject, _ = backfill_and_export(repo, tmp_path / "subject", "--message", "subject")
    (f1,) = [r for r in by_name(subject)["f1"] if r["change"] == "modified"]
    assert segments(f1)["msg"] == "Make f1 faster"


def test_context_ablations_keep_the_same_examples_and_splits(repo: Repo, tmp_path: Path) -> None:
    config = "pub struct Config {\n    pub name: String,\n}\n"
    report = (
        "use crate::config::Config;\n\n"
        "pub fn title(c: &Config) -> String {\n    c.name.clone()\n}\n"
    )
    repo.commit(
        {
            "Cargo.toml": CARGO,
            "src/lib.rs": "pub mod config;\npub mod report;\n",
            "src/config.rs": config,
            "src/report.rs": report,
        },
        "start",
    )
    repo.commit(
        {
            "src/config.rs": config.replace("String,\n", "String,\n    pub width: usize,\n"),
            "src/report.rs": report.replace("c.name.clone()", "c.name.repeat(c.width)"),
        },
        "repeat the name",
    )
    full, _ = backfill_and_export(repo, tmp_path / "full")
    none, manifest = backfill_and_export(repo, tmp_path / "none", "--context", "none")
    no_edits, _ = backfill_and_export(repo, tmp_path / "no-edits", "--context", "no-edits")
    key = lambda records: sorted((r["id"], r["split"]) for r in records)  # noqa: E731
    assert key(full) == key(none) == key(no_edits)
    title = lambda records: next(  # noqa: E731
        r for r in records if r["qualname"] == "title" and r["change"] == "modified"
    )
    assert "edit_struct" in segments(title(full))
    assert not any(k.startswith(("ctx_", "edit_")) for k in segments(title(none)))
    assert "edit_struct" not in segments(title(no_edits))
    assert manifest["settings"]["context"] == "none"
    bad = cli("export", tmp_path / "bad", "--repo", repo.path, "--context", "some")
    assert bad.exit_code == 2 and "error: Invalid value for '--context': 'some'" in bad.output


def test_shells_and_stubs_are_left_out(repo: Repo, tmp_path: Path) -> None:
    """A container whose own part is only its braces (and `use` lines) once its
    members are left out, and a body that is only `todo!()`, teach nothing."""
    lib = (
        "pub struct S;\n\nimpl S {\n    pub fn one(&self) -> u8 {\n        1\n    }\n}\n\n"
        "pub fn later() -> u8 {\n    todo!()\n}\n\n"
        "#[cfg(test)]\nmod tests {\n    extern crate std;\n    use super::*;\n\n    #[test]\n"
        "    fn one() {\n        assert_eq!(S.one(), 1);\n    }\n}\n"
    )
    repo.commit({"Cargo.toml": CARGO, "src/lib.rs": lib}, "start")
    records, manifest = backfill_and_export(repo, tmp_path / "out")
    names = {r["qualname"] for r in records}
    assert "impl S::one" in names and "tests::one" in names
    assert not names & {"impl S", "tests", "later"}
    left = manifest["funnel"]["left_out"]
    assert left["shell"] == 2 and left["stub"] == 1
    kept, _ = backfill_and_export(repo, tmp_path / "kept", "--keep", "shell", "--keep", "stub")
    assert {r["qualname"] for r in kept} >= {"impl S", "tests", "later"}
