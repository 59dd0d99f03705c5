"""Examples from real commits: which items become examples, and their cross-file context."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pygit2
from gitrepo import Repo, backfill, cli, rows_at, unbuild_examples

from indexer import git
from indexer.index.examples import build_examples
from indexer.index.symbols import StoreSource
from indexer.index.sync import POOL_MIN_COMMITS
from indexer.rust import SUFFIX
from indexer.shapes import Example
from indexer.store import open_target
from indexer.store.commits import blob_symbols

CONFIG = """/// Settings.
#[derive(Debug)]
pub struct Config {
    /// Port.
    pub port: u16,
}
"""
STORE = """pub trait Store {
    /// Get one.
    fn get(&self, id: u64) -> Option<u64>;
    fn len(&self) -> usize {
        0
    }
}
"""
SERVICE_V1 = """use crate::config::Config;
use crate::storage::Store as Backend;

pub fn serve<B: Backend>(backend: &B, config: &Config) -> usize {
    backend.len()
}
"""
SERVICE_V2 = SERVICE_V1.replace("backend.len()", "backend.len() + config.port as usize")


def _examples(repo: Repo) -> list[Example]:
    """Backfill, then build the examples of HEAD's commit."""
    assert cli("backfill", "--repo", repo.path).exit_code == 0
    target = open_target(str(repo.path))
    try:
        commit = target.repo.revparse_single("HEAD").peel(pygit2.Commit)
        with target.store.connect() as conn:
            built = build_examples(
                StoreSource(target.repo, partial(blob_symbols, conn)),
                git.commit_info(target.repo, commit),
                git.changed_files(target.repo, commit, SUFFIX),
            )
    finally:
        target.close()
    return built.examples


def _segment(example: Example, kind: str) -> list[str]:
    return [s.text for s in example.segments if s.kind == kind]


def test_changed_fn_gets_struct_and_trait_from_two_files(repo: Repo) -> None:
    repo.commit(
        {"src/config.rs": CONFIG, "src/storage.rs": STORE, "src/service.rs": SERVICE_V1},
        "start",
    )
    repo.commit({"src/service.rs": SERVICE_V2}, "Use the port")
    [example] = _examples(repo)
    assert (example.kind, example.qualname, example.change) == ("fn", "serve", "modified")
    assert example.target == SERVICE_V2[SERVICE_V2.index("pub fn") :].rstrip("\n")
    assert _segment(example, "path") == ["src/service.rs"]
    assert _segment(example, "msg") == ["Use the port"]
    assert _segment(example, "old") == [SERVICE_V1[SERVICE_V1.index("pub fn") :].rstrip("\n")]
    assert _segment(example, "imports") == [
        "use crate::config::Config;\nuse crate::storage::Store as Backend;"
    ]
    assert _segment(example, "ctx_struct") == [CONFIG.rstrip("\n")]
    # a trait shows its method signatures; default bodies are elided
    [trait] = _segment(example, "ctx_trait")
    assert "fn len(&self) -> usize;" in trait and "0\n" not in trait
    assert "Backend -> src/storage.rs::Store" in example.resolved  # through the alias
    struct = next(s for s in example.segments if s.kind == "ctx_struct")
    assert struct.variants == (
        "pub struct Config {\n    pub port: u16,\n}",
        "pub struct Config { .. }",
    )


def test_glob_import_resolves_and_unrelated_namesake_is_not_chosen(repo: Repo) -> None:
    repo.commit(
        {
            "src/model/mod.rs": "mod user;\npub use user::User;\n",
            "src/model/user.rs": "pub struct User { pub id: u64 }\n",
            "src/legacy.rs": "pub struct User { pub name: String }\n",
            "src/api.rs": "use crate::model::*;\n\npub fn make() -> User { todo!() }\n",
        },
        "start",
    )
    repo.commit(
        {"src/api.rs": "use crate::model::*;\n\npub fn make() -> User { User { id: 1 } }\n"},
        "Build a user",
    )
    [example] = _examples(repo)
    assert _segment(example, "ctx_struct") == ["pub struct User { pub id: u64 }"]
    assert "User -> src/model/user.rs::User" in example.resolved


def test_context_changed_by_the_same_commit_is_shown_as_it_leaves_it(repo: Repo) -> None:
    repo.commit(
        {"src/config.rs": CONFIG, "src/storage.rs": STORE, "src/service.rs": SERVICE_V1},
        "start",
    )
    # the struct and the fn change in the same commit: the context shows the struct as
    # the commit leaves it (the fn is written against it), marked as an edit
    repo.commit(
        {
            "src/config.rs": CONFIG.replace(
                "pub port: u16,", "pub port: u16,\n    pub host: String,"
            ),
            "src/service.rs": SERVICE_V2,
        },
        "Both",
    )
    examples = {e.qualname: e for e in _examples(repo)}
    assert _segment(examples["serve"], "ctx_struct") == []
    [config] = _segment(examples["serve"], "edit_struct")
    assert "pub host: String," in config
    assert examples["Config"].change == "modified"


def test_added_item_has_empty_old_code_and_deletions_are_not_examples(repo: Repo) -> None:
    repo.commit({"src/lib.rs": "pub fn a() {}\npub fn b() {}\n"}, "start")
    repo.commit({"src/lib.rs": "pub fn a() {}\n\npub fn c() -> u8 {\n    1\n}\n"}, "b -> c")
    [example] = _examples(repo)
    assert (example.qualname, example.change) == ("c", "added")
    assert _segment(example, "old") == [""]


def test_method_change_is_the_method_and_header_change_is_the_impl(repo: Repo) -> None:
    base = "pub struct S;\nimpl S {\n    pub fn one(&self) -> u8 {\n        1\n    }\n}\n"
    repo.commit({"src/lib.rs": base}, "start")
    repo.commit({"src/lib.rs": base.replace("        1", "        2")}, "method body")
    [example] = _examples(repo)
    assert (example.kind, example.qualname) == ("method", "impl S::one")
    repo.commit(
        {
            "src/lib.rs": base.replace("        1", "        2").replace(
                "impl S", "impl Clone for S"
            )
        },
        "header",
    )
    kinds = {(e.kind, e.qualname, e.change) for e in _examples(repo)}
    assert ("impl", "impl Clone for S", "added") in kinds


def test_a_whitespace_only_change_is_a_formatting_edit_and_merges_make_no_examples(
    repo: Repo,
) -> None:
    repo.commit({"src/lib.rs": "pub fn a() -> u8 { 1 }\n"}, "start")
    repo.commit({"src/lib.rs": "pub fn a() -> u8 {\n    1\n}\n"}, "reformat")
    [example] = _examples(repo)
    assert example.edit_type == "formatting"  # stored; exports leave it out by default
    repo.git("checkout", "-q", "-b", "side")
    repo.commit({"src/side.rs": "pub fn s() {}\n"}, "side")
    repo.git("checkout", "-q", "main")
    repo.commit({"src/main.rs": "fn main() {}\n"}, "main")
    repo.git("merge", "-q", "--no-ff", "-m", "merge", "side")
    assert _examples(repo) == []


def test_show_prints_a_commits_examples_and_says_why_there_are_none(repo: Repo) -> None:
    base = "pub struct S;\nimpl S {\n    pub fn one(&self) -> u8 {\n        1\n    }\n}\n"
    repo.commit({"src/lib.rs": base}, "start")
    repo.commit({"src/lib.rs": base.replace("        1", "        2")}, "Return two")
    assert cli("backfill", "--repo", repo.path).exit_code == 0
    result = cli("show", "HEAD", "--repo", repo.path)
    assert result.exit_code == 0, result.output
    assert "modified method impl S::one in src/lib.rs" in result.output
    assert "<msg>\nReturn two\n" in result.output
    # the method keeps the indentation of its first line
    assert "<target>\n    pub fn one(&self) -> u8 {\n        2\n    }\n" in result.output
    repo.commit({"src/lib.rs": base.replace("        1", "        2") + "\n"}, "blank line")
    assert cli("sync", "--repo", repo.path).exit_code == 0
    none = cli("show", "HEAD", "--repo", repo.path)
    assert none.exit_code == 1  # nothing found, as grep says it
    assert "has no examples" in none.output
    stats = cli("stats", "--repo", repo.path)
    # the root commit's three items, added, and the changed method
    assert "examples     4 (not examples: none)" in stats.output


def test_an_item_defined_twice_under_cfg_makes_two_examples(repo: Repo) -> None:
    one = "#[cfg(unix)]\npub fn sep() -> char {\n    '/'\n}\n"
    twice = one + one.replace("unix", "windows").replace("'/'", "'\\\\'")
    repo.commit({"src/lib.rs": twice}, "start")
    repo.commit({"src/lib.rs": twice.replace("char {", "u8 {")}, "bytes")
    names = sorted(e.qualname for e in _examples(repo))
    assert names == ["sep", "sep#2"]


def test_two_impl_blocks_of_one_type_are_two_containers(repo: Repo) -> None:
    # Both blocks are `impl S`: a change between the methods of the second is the
    # second's example alone, and its target is that block without its members.
    first = "pub struct S;\nimpl S {\n    pub fn one(&self) -> u8 {\n        1\n    }\n}\n"
    second = "impl S {\n    pub fn two(&self) -> u8 {\n        2\n    }\n}\n"
    repo.commit({"src/lib.rs": first + second}, "start")
    changed = second.replace("impl S {\n", "impl S {\n    // Two of them.\n")
    repo.commit({"src/lib.rs": first + changed}, "comment in the second block")
    [example] = _examples(repo)
    assert (example.kind, example.qualname) == ("impl", "impl S#2")
    assert example.target == "impl S {\n    // Two of them.\n}"


TWO_CFG_MODS = """#[cfg(feature = "a")]
mod inner {
    pub fn visit() -> u8 {
        1
    }
}

#[cfg(not(feature = "a"))]
mod inner {
    pub fn visit() -> u8 {
        2
    }
}
"""


def test_one_name_twice_is_numbered_in_file_order_by_any_number_of_workers(
    repo: Repo, tmp_path: Path
) -> None:
    """`inner::visit` in two cfg'd mods: the first in the file is `inner::visit`, the
    second `inner::visit#2`, whether the examples were built from the parse just made
    (in this process, or from what a worker sent) or read back from the store (a
    sync finishing examples a stopped one left). They once differed: the parser meets
    the items of nested blocks last block first."""
    repo.commit({"src/lib.rs": TWO_CFG_MODS}, "two mods")
    first = TWO_CFG_MODS.replace("        1\n", "        10\n")
    repo.commit({"src/lib.rs": first}, "first")
    repo.commit({"src/lib.rs": first.replace("        2\n", "        20\n")}, "second")
    for n in range(POOL_MIN_COMMITS):  # enough commits that backfill starts its parser pool
        repo.commit({"src/pad.rs": f"pub fn pad{n}() {{}}\n"}, f"pad {n}")
    sql = (
        "SELECT c.message, e.qualname, x.target FROM examples e"
        " JOIN commits c ON c.id = e.commit_id JOIN example_contents x ON x.id = e.content_id"
        " WHERE e.path = 'src/lib.rs' AND c.message IN ('first\n', 'second\n') ORDER BY 1"
    )
    found = []
    for workers in ("1", "2"):
        url = f"sqlite:///{tmp_path / f'workers-{workers}.db'}"
        backfill(repo, "--db", url, "--workers", workers)
        found.append(rows_at(url, sql))
    unbuild_examples(url)  # every commit's examples, built again from the store
    assert rows_at(url, sql) == []
    assert cli("sync", "--repo", repo.path, "--db", url, "--workers", "1").exit_code == 0
    found.append(rows_at(url, sql))
    assert found[0] == found[1] == found[2]
    assert [(m, q, "10" in t) for m, q, t in found[0]] == [
        ("first\n", "inner::visit", True),
        ("second\n", "inner::visit#2", False),
    ]


def test_a_macro_as_context_can_shrink_to_its_header(repo: Repo) -> None:
    macros = (
        "/// Doubles.\n#[macro_export]\nmacro_rules! twice {\n"
        "    ($e:expr) => { $e * 2 };\n    ($e:expr, $f:expr) => { ($e + $f) * 2 };\n}\n"
    )
    repo.commit(
        {
            "src/lib.rs": "mod macros;\nmod use_it;\n",
            "src/macros.rs": macros,
            "src/use_it.rs": "pub fn four() -> u32 {\n    2\n}\n",
        },
        "start",
    )
    repo.commit({"src/use_it.rs": "pub fn four() -> u32 {\n    twice!(2)\n}\n"}, "use it")
    [example] = _examples(repo)
    [macro] = [s for s in example.segments if s.kind == "ctx_macro"]
    assert macro.text == macros.rstrip("\n")
    assert macro.variants[-1] == "macro_rules! twice { .. }"


def test_a_name_defined_twice_in_one_file_resolves_to_its_first_type(repo: Repo) -> None:
    platform = (
        '#[cfg(unix)]\nmacro_rules! sep {\n    () => { "/" };\n}\n'
        '#[cfg(windows)]\nmacro_rules! sep {\n    () => { "\\\\" };\n}\n'
        "#[cfg(unix)]\npub struct Handle {\n    pub fd: i32,\n}\n"
        "#[cfg(windows)]\npub struct Handle {\n    pub raw: usize,\n}\n"
        "#[allow(non_snake_case)]\npub fn Handle(fd: i32) -> Handle {\n    Handle { fd }\n}\n"
    )
    use_it = "use crate::platform::Handle;\n\npub fn open() -> Handle {\n    todo!()\n}\n"
    repo.commit(
        {
            "src/lib.rs": "#[macro_use]\nmod platform;\nmod use_it;\n",
            "src/platform.rs": platform,
            "src/use_it.rs": use_it,
        },
        "start",
    )
    repo.commit({"src/use_it.rs": use_it.replace("todo!()", "let _ = sep!();\n    todo!()")}, "sep")
    [example] = _examples(repo)
    assert "Handle -> src/platform.rs::Handle" in example.resolved
    assert "sep! -> src/platform.rs::sep" in example.resolved
    assert _segment(example, "ctx_struct") == [
        "#[cfg(unix)]\npub struct Handle {\n    pub fd: i32,\n}"
    ]


def test_a_macro_in_an_inline_macro_use_module_is_found_from_another_file(repo: Repo) -> None:
    macros = (
        '#[cfg(feature = "debug")]\n#[macro_use]\nmod debug_macros {\n'
        '    macro_rules! debugln {\n        ($e:expr) => { println!("{}", $e) };\n    }\n}\n'
    )
    work = "pub fn work() -> u8 {\n    1\n}\n"
    repo.commit(
        {
            "src/lib.rs": "#[macro_use]\nmod macros;\nmod work;\n",
            "src/macros.rs": macros,
            "src/work.rs": work,
        },
        "start",
    )
    repo.commit({"src/work.rs": work.replace("    1", '    debugln!("working");\n    1')}, "log")
    [example] = _examples(repo)
    assert "debugln! -> src/macros.rs::debug_macros::debugln" in example.resolved
