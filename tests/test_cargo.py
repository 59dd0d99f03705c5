"""Cross-file context through Cargo's crates: a binary and its own library, workspace
crates and re-export chains, integration tests, edition 2015, exported macros.
Each history is a real repository, backfilled by the CLI; the examples are the store's."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from gitrepo import Repo, cli, db_url, dump_store

from indexer.demo import build_demo_repo
from indexer.rust.cargo import Cargo
from indexer.store import open_target
from indexer.store.examples import commit_examples


def _resolved(repo: Repo, rev: str = "HEAD", path: str | None = None) -> dict:
    """Backfill, then {qualname: (resolved, unresolved)} of the commit's examples."""
    assert cli("backfill", "--repo", repo.path).exit_code == 0
    target = open_target(str(repo.path))
    try:
        oid = str(target.repo.revparse_single(rev).id)
        with target.store.connect() as conn:
            stored = commit_examples(conn, target.repo_id, oid)
    finally:
        target.close()
    return {
        e.qualname: (e.resolved, e.unresolved) for e in stored if path is None or e.path == path
    }


def _targets(resolved: tuple[str, ...]) -> set[str]:
    return {line.split(" -> ")[1] for line in resolved}


def _manifest(name: str, edition: str = "2021", extra: str = "") -> str:
    return f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "{edition}"\n{extra}'


def test_the_demo_binary_gets_its_librarys_definitions(tmp_path: Path) -> None:
    demo = build_demo_repo(tmp_path / "demo")
    assert cli("backfill", "--repo", demo.path).exit_code == 0
    used: set[str] = set()
    target = open_target(str(demo.path))
    try:
        with target.store.connect() as conn:
            for commit in target.repo.walk(target.repo.head.target):
                for e in commit_examples(conn, target.repo_id, str(commit.id)):
                    if e.path == "src/main.rs":
                        used |= _targets(e.resolved)
    finally:
        target.close()
    assert "src/config.rs::Config" in used
    assert "src/storage.rs::MemoryStore" in used
    assert "src/service.rs::register" in used


def test_a_workspace_crate_reaches_a_type_through_a_pub_use_chain_two_crates_deep(
    repo: Repo,
) -> None:
    workspace = '[workspace]\nmembers = ["crates/*"]\n'
    repo.commit(
        {
            "Cargo.toml": workspace,
            "crates/core-types/Cargo.toml": _manifest("core-types"),
            "crates/core-types/src/lib.rs": "mod shape;\npub use shape::Square as Sq;\n",
            "crates/core-types/src/shape.rs": "pub struct Square {\n    pub side: u32,\n}\n",
            "crates/middle/Cargo.toml": _manifest(
                "middle", extra='[dependencies]\ncore-types = { path = "../core-types" }\n'
            ),
            "crates/middle/src/lib.rs": "pub use core_types::*;\n",
            "crates/app/Cargo.toml": _manifest(
                "app", extra='[dependencies]\nmid = { path = "../middle", package = "middle" }\n'
            ),
            "crates/app/src/lib.rs": "pub mod draw;\n",
            "crates/app/src/draw.rs": "pub fn area() -> u32 {\n    0\n}\n",
        },
        "start",
    )
    repo.commit(
        {
            "crates/app/src/draw.rs": "use mid::Sq as Square;\n\n"
            "pub fn area(s: &Square) -> u32 {\n    s.side * s.side\n}\n"
        },
        "Area of a square",
    )
    resolved, _unresolved = _resolved(repo)["area"]
    assert _targets(resolved) == {"crates/core-types/src/shape.rs::Square"}


def test_an_integration_test_gets_its_helper_module(repo: Repo) -> None:
    repo.commit(
        {
            "Cargo.toml": _manifest("tool"),
            "src/lib.rs": "pub fn run() {}\n",
            "tests/tests.rs": "mod testenv;\n\n#[test]\nfn runs() {}\n",
            "tests/testenv/mod.rs": "pub struct TestEnv {\n    pub dir: String,\n}\n",
        },
        "start",
    )
    repo.commit(
        {
            "tests/tests.rs": "mod testenv;\nuse crate::testenv::TestEnv;\n\n#[test]\n"
            "fn runs() {\n    let env = TestEnv { dir: String::new() };\n    tool::run();\n}\n"
        },
        "Use the test env",
    )
    resolved, _unresolved = _resolved(repo)["runs"]
    assert _targets(resolved) == {"tests/testenv/mod.rs::TestEnv", "src/lib.rs::run"}


def test_a_2015_crate_resolves_use_paths_from_its_root(repo: Repo) -> None:
    repo.commit(
        {
            "Cargo.toml": _manifest("old", edition="2015"),
            "src/lib.rs": "mod printer;\nmod report;\n",
            "src/printer.rs": "pub struct Printer {\n    pub width: usize,\n}\n",
            "src/report.rs": "pub fn report() {}\n",
        },
        "start",
    )
    repo.commit(
        {
            "src/report.rs": "use printer::Printer;\n\n"
            "pub fn report(p: &Printer) -> usize {\n    p.width\n}\n"
        },
        "Report to a printer",
    )
    resolved, unresolved = _resolved(repo)["report"]
    assert _targets(resolved) == {"src/printer.rs::Printer"}
    assert not any("external: printer" in u for u in unresolved)


def test_a_macro_exported_from_another_crate(repo: Repo) -> None:
    repo.commit(
        {
            "Cargo.toml": '[workspace]\nmembers = ["macros", "app"]\n',
            "macros/Cargo.toml": _manifest("macros"),
            "macros/src/lib.rs": "mod inner;\n",
            "macros/src/inner.rs": "#[macro_export]\nmacro_rules! square {\n"
            "    ($x:expr) => {\n        $x * $x\n    };\n}\n",
            "app/Cargo.toml": _manifest(
                "app", extra='[dependencies]\nmacros = { path = "../macros" }\n'
            ),
            "app/src/lib.rs": "pub fn four() -> u32 {\n    4\n}\n",
        },
        "start",
    )
    repo.commit(
        {"app/src/lib.rs": "use macros::square;\n\npub fn four() -> u32 {\n    square!(2)\n}\n"},
        "Square it",
    )
    resolved, _unresolved = _resolved(repo)["four"]
    assert _targets(resolved) == {"macros/src/inner.rs::square"}


def test_the_cargo_model_knows_targets_editions_and_names() -> None:
    manifests = {
        "Cargo.toml": b'[workspace]\nmembers = ["a"]\n[workspace.package]\nedition = "2018"\n'
        b'[workspace.dependencies]\nb-lib = { path = "b" }\n',
        "a/Cargo.toml": b'[package]\nname = "a-pkg"\nedition.workspace = true\n'
        b'[lib]\nname = "alib"\n[[bin]]\nname = "tool"\npath = "src/cli.rs"\n'
        b"[dependencies]\nb-lib.workspace = true\n",
        "b/Cargo.toml": b'[package]\nname = "b-lib"\n',
    }
    paths = [
        "a/src/lib.rs",
        "a/src/cli.rs",
        "a/src/bin/extra/main.rs",
        "a/src/bin/extra/util.rs",
        "a/src/model/user.rs",
        "a/tests/it.rs",
        "a/tests/common/mod.rs",
        "a/tests/other.rs",
        "a/build.rs",
        "b/src/lib.rs",
    ]
    cargo = Cargo(manifests, paths)

    def where(path: str) -> list[tuple[str, tuple[str, ...]]]:
        return list(cargo.crates_of(path))

    assert where("a/src/lib.rs") == [("a:lib:alib", ("crate",))]
    assert where("a/src/cli.rs") == [("a:bin:tool", ("crate",))]
    assert where("a/src/model/user.rs") == [("a:lib:alib", ("crate", "model", "user"))]
    assert where("a/src/bin/extra/util.rs") == [("a:bin:extra", ("crate", "util"))]
    assert where("a/tests/common/mod.rs") == [
        ("a:test:it", ("crate", "common")),
        ("a:test:other", ("crate", "common")),
    ]
    assert where("a/build.rs") == [("a:build:build_script_build", ("crate",))]
    tool = cargo.crates["a:bin:tool"]
    assert tool.edition == "2018"
    assert tool.externs == {"b_lib": "b:lib:b_lib", "alib": "a:lib:alib"}
    assert cargo.crates["b:lib:b_lib"].edition == "2015"


def test_a_name_an_inline_module_imports_again_keeps_the_files_own_import(repo: Repo) -> None:
    tests_mod = "\n#[cfg(test)]\nmod tests {\n    use serde_derive::Value;\n}\n"
    repo.commit(
        {
            "Cargo.toml": _manifest("kv"),
            "src/lib.rs": "pub mod value;\npub mod source;\n",
            "src/value.rs": "pub struct Value {\n    pub n: u64,\n}\n",
            "src/source.rs": "use crate::value::Value;\n\npub fn get() {}\n" + tests_mod,
        },
        "start",
    )
    repo.commit(
        {
            "src/source.rs": "use crate::value::Value;\n\n"
            "pub fn get(v: &Value) -> u64 {\n    v.n\n}\n" + tests_mod
        },
        "Get a value",
    )
    resolved, _unresolved = _resolved(repo)["get"]
    assert _targets(resolved) == {"src/value.rs::Value"}


def test_a_store_from_an_older_builder_builds_its_examples_again(
    repo: Repo, tmp_path: Path
) -> None:
    repo.commit(
        {
            "Cargo.toml": _manifest("app"),
            "src/lib.rs": "pub mod config;\n",
            "src/config.rs": "pub struct Config {\n    pub port: u16,\n}\n",
            "src/main.rs": "fn main() {}\n",
        },
        "start",
    )
    repo.commit(
        {
            "src/main.rs": "use app::config::Config;\n\n"
            "fn main() {\n    let _c: Option<Config> = None;\n}\n"
        },
        "Use the config",
    )
    assert cli("backfill", "--repo", repo.path).exit_code == 0
    fresh = dump_store(db_url(repo))
    # What a store of the version before looks like: examples without the library's
    # definitions, and no version.
    engine = sa.create_engine(db_url(repo))
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE repos SET examples_version = 0")
        conn.exec_driver_sql("UPDATE examples SET resolved = '[]'")
    engine.dispose()
    refused = cli("export", tmp_path / "out", "--repo", repo.path)
    assert refused.exit_code == 2
    assert "built by an older commit-indexer" in refused.output
    assert "commit-indexer backfill" in refused.output
    assert cli("backfill", "--repo", repo.path).exit_code == 0
    assert dump_store(db_url(repo)) == fresh
    assert _resolved(repo)["main"][0] == ("Config -> src/config.rs::Config",)
    assert cli("export", tmp_path / "out", "--repo", repo.path).exit_code == 0


def test_stats_report_how_the_stores_names_were_resolved(repo: Repo) -> None:
    repo.commit(
        {
            "Cargo.toml": _manifest("app"),
            "src/lib.rs": "pub mod config;\npub mod run;\n",
            "src/config.rs": "pub struct Config {\n    pub port: u16,\n}\n",
            "src/run.rs": "pub fn run() {}\n",
        },
        "start",
    )
    repo.commit(
        {
            "src/run.rs": "use crate::config::Config;\nuse serde::Serialize;\n\n"
            "pub fn run(c: &Config) -> Option<Box<dyn Serialize>> {\n    None\n}\n"
        },
        "Run with a config",
    )
    assert cli("backfill", "--repo", repo.path).exit_code == 0
    shown = cli("stats", "--repo", repo.path)
    assert shown.exit_code == 0, shown.output
    [context] = [line for line in shown.output.splitlines() if "names resolved" in line]
    assert context.split() == "context 1 names resolved to other files (100% of 1 ours)".split()
    assert "1 external" in shown.output


def test_glob_uses_of_the_root_in_any_edition_index(repo: Repo) -> None:
    repo.commit(
        {"Cargo.toml": _manifest("globs", edition="2015"), "src/lib.rs": "pub struct Root;\n"},
        "start",
    )
    for n, edition in enumerate(("2015", "2021", "2021")):
        body = f"use *;\nuse ::*;\n\npub fn f(_r: Root) -> u32 {{\n    {n}\n}}\n"
        repo.commit(
            {
                "Cargo.toml": _manifest("globs", edition=edition),
                "src/lib.rs": "mod a;\npub struct Root;\n",
                "src/a.rs": body,
            },
            f"edition {edition}, {n}",
        )
    assert cli("backfill", "--repo", repo.path).exit_code == 0
    resolved, _unresolved = _resolved(repo, "HEAD~2")["f"]
    assert _targets(resolved) == {"src/lib.rs::Root"}  # 2015: `use *` is the crate's root
    assert "f" in _resolved(repo, "HEAD")  # in 2021, `use ::*` names no crate
