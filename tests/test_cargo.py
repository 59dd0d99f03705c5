"""Cross-file context through Cargo's crates: a binary and its own library, workspace
crates and re-export chains, integration tests, edition 2015, exported macros,
`#[path]` modules and `extern crate` names.
Each history is a real repository, backfilled by the CLI; the examples are the store's."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from gitrepo import Repo, cli, db_url, dump_store

from indexer.demo import build_demo_repo
from indexer.resources import resource_dir
from indexer.rust import parse_blob
from indexer.rust.cargo import Cargo, manifest_key
from indexer.rust.resolve import BlobIndex, SymbolTable, definitions, index_blob
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


def _index(path: str, text: str) -> BlobIndex:
    """The index of a file, its text standing for its blob."""
    parsed = parse_blob(text.encode())
    items = definitions(text, [i[:7] for i in parsed.items], path)
    return index_blob(path, items, list(parsed.uses), parsed.mods)


def _cargo(paths: Iterable[str]) -> Cargo:
    return Cargo({"Cargo.toml": _manifest("pkg").encode()}, paths)


def _table(sources: dict[str, str]) -> SymbolTable:
    """The symbol table of a tree holding one package, `pkg`, of these files."""
    return SymbolTable({p: _index(p, text) for p, text in sources.items()}, cargo=_cargo(sources))


_AT_TOP = '#[path = "foo.rs"]\nmod c;\n'
_IN_INLINE = 'mod inline {\n    #[path = "other.rs"]\n    mod inner;\n}\n'
_BOTH = '#[path = "thread_files"]\nmod thread {\n    #[path = "tls.rs"]\n    mod local_data;\n}\n'


@pytest.mark.parametrize(
    ("declaring", "code", "file", "module"),
    [  # the Rust reference's examples (items/modules.md, "The path attribute")
        ("src/a/b.rs", _AT_TOP, "src/a/foo.rs", "a::b::c"),
        ("src/a/mod.rs", _AT_TOP, "src/a/foo.rs", "a::c"),
        ("src/a/b.rs", _IN_INLINE, "src/a/b/inline/other.rs", "a::b::inline::inner"),
        ("src/a/mod.rs", _IN_INLINE, "src/a/inline/other.rs", "a::inline::inner"),
        ("src/a/b.rs", _BOTH, "src/a/thread_files/tls.rs", "a::b::thread::local_data"),
        ("src/a/mod.rs", _BOTH, "src/a/thread_files/tls.rs", "a::thread::local_data"),
        ("src/lib.rs", '#[path = "../gen/out.rs"]\nmod out;\n', "gen/out.rs", "out"),
    ],
)
def test_a_path_attribute_puts_the_file_where_the_reference_says(
    declaring: str, code: str, file: str, module: str
) -> None:
    sources = {"src/lib.rs": "mod a;\n", "src/a/mod.rs": "mod b;\n"}
    sources |= {declaring: code, file: "pub struct Found;\n"}
    table = _table(sources)
    place = ("crate", *module.split("::"))
    assert table.places(file) == ((":lib:pkg", place),)
    [found] = table.in_module(":lib:pkg", place, "Found")
    assert found.path == file


def test_a_file_a_build_script_includes_stays_the_librarys_first() -> None:
    table = _table(
        {
            "src/lib.rs": "pub mod cli;\n",
            "src/cli.rs": "pub struct Args;\n",
            "build.rs": '#[path = "src/cli.rs"]\nmod cli;\n\nfn main() {}\n',
        }
    )
    assert table.places("src/cli.rs") == (
        (":lib:pkg", ("crate", "cli")),
        (":build:build_script_build", ("crate", "cli")),
    )


def test_a_table_made_from_the_last_one_places_files_as_a_new_one_does() -> None:
    tree = {
        "src/lib.rs": '#[path = "sys/mod.rs"]\nmod sys;\n',
        "src/sys/mod.rs": '#[path = "unix/mod.rs"]\nmod imp;\n',
        "src/sys/unix/mod.rs": "mod fs;\n",
        "src/sys/unix/fs.rs": "pub struct File;\n",
        "src/sys/unix/other.rs": "pub struct Other;\n",
    }
    cargo = _cargo(tree)  # the same manifests and paths in every tree
    steps = [  # (what changes, do the files stay where they were)
        ({"src/lib.rs": '#[path = "sys/mod.rs"]\nmod sys;\npub fn run() {}\n'}, True),
        ({"src/sys/unix/fs.rs": "pub struct File(u32);\n"}, True),
        ({"src/sys/unix/mod.rs": "mod fs;\nmod other;\n"}, False),
        ({"src/sys/mod.rs": '#[path = "unix/other.rs"]\nmod imp;\n'}, False),
        ({"src/lib.rs": "mod sys;\n"}, False),
    ]
    last = SymbolTable.at(tree, _index, None, cargo)
    assert last.places("src/sys/unix/fs.rs") == ((":lib:pkg", ("crate", "sys", "imp", "fs")),)
    for change, stays in steps:
        tree = tree | change  # a new dict: a table keeps the one it was made from
        made = SymbolTable.at(tree, _index, last, cargo)
        new = SymbolTable.at(tree, _index, None, cargo)
        assert made.modules == new.modules
        assert {p: made.places(p) for p in tree} == {p: new.places(p) for p in tree}
        assert (made.layout is last.layout) == stays  # kept, not computed again
        last = made
    # lib.rs's `mod sys;` is sys/mod.rs by its path, and its attribute still names imp
    assert last.places("src/sys/unix/other.rs") == ((":lib:pkg", ("crate", "sys", "imp")),)
    assert last.places("src/sys/unix/fs.rs") == ((":lib:pkg", ("crate", "sys", "unix", "fs")),)


def test_a_module_file_named_by_a_path_attribute_resolves_at_its_declared_module(
    repo: Repo,
) -> None:
    unix = "use super::config::Config;\n\npub mod fd;\n\n"
    unix += "pub struct Handle {\n    pub raw: i32,\n}\n"
    repo.commit(
        {
            "Cargo.toml": _manifest("app"),
            "src/lib.rs": 'pub mod config;\npub mod run;\n#[path = "platform/unix.rs"]\n'
            "pub mod sys;\n",
            "src/config.rs": "pub struct Config {\n    pub verbose: bool,\n}\n",
            "src/platform/unix.rs": unix + "\npub fn open() -> i32 {\n    0\n}\n",
            # declared by unix.rs, which rustc reads as a mod.rs: crate::sys::fd
            "src/platform/fd.rs": "pub struct Fd(pub i32);\n",
            "src/run.rs": "pub fn run() {}\n",
        },
        "start",
    )
    repo.commit(
        {
            "src/run.rs": "use crate::sys::fd::Fd;\nuse crate::sys::Handle;\n\n"
            "pub fn run(h: &Handle) -> Fd {\n    Fd(h.raw)\n}\n",
            "src/platform/unix.rs": unix
            + "\npub fn open(c: &Config) -> i32 {\n    i32::from(c.verbose)\n}\n",
        },
        "Run on a handle",
    )
    resolved = _resolved(repo)
    assert _targets(resolved["run"][0]) == {
        "src/platform/unix.rs::Handle",
        "src/platform/fd.rs::Fd",
    }
    assert _targets(resolved["open"][0]) == {"src/config.rs::Config"}


@pytest.mark.parametrize("edition", ["2015", "2021"])
def test_a_crate_renamed_by_extern_crate_resolves_as_the_crate(repo: Repo, edition: str) -> None:
    repo.commit(
        {
            "Cargo.toml": '[workspace]\nmembers = ["shapes", "app"]\n',
            "shapes/Cargo.toml": _manifest("shapes"),
            "shapes/src/lib.rs": "pub struct Square {\n    pub side: u32,\n}\n",
            "app/Cargo.toml": _manifest(
                "app", edition, '[dependencies]\nshapes = { path = "../shapes" }\n'
            ),
            "app/src/lib.rs": "extern crate shapes as geo;\nextern crate self as app;\n"
            "extern crate shapes;\n\npub mod area;\npub mod units;\n",
            "app/src/units.rs": "pub struct Meters(pub u32);\n",
            "app/src/area.rs": "pub fn area() -> u32 {\n    0\n}\n",
        },
        "start",
    )
    repo.commit(
        {
            "app/src/area.rs": "use geo::Square;\nuse app::units::Meters;\n\n"
            "pub fn area(s: &Square) -> Meters {\n    Meters(s.side * s.side)\n}\n\n"
            "pub fn side(s: &shapes::Square) -> u32 {\n    s.side\n}\n"
        },
        "Area of a square",
    )
    resolved = _resolved(repo)
    assert _targets(resolved["area"][0]) == {
        "shapes/src/lib.rs::Square",
        "app/src/units.rs::Meters",
    }
    assert _targets(resolved["side"][0]) == {"shapes/src/lib.rs::Square"}


def test_a_store_of_the_parser_before_reads_its_blobs_again(
    repo: Repo, new_store: Callable[[str], str]
) -> None:
    url = new_store("upgraded")
    repo.git("config", "commit-indexer.db", url)
    repo.commit(
        {
            "Cargo.toml": _manifest("app"),
            "src/lib.rs": "extern crate self as app;\n"
            '#[path = "impl/config.rs"]\npub mod config;\n',
            "src/impl/config.rs": "pub struct Config {\n    pub port: u16,\n}\n",
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
    fresh = dump_store(url)
    # What the version before left: schema 0006, its blobs parsed by parser 2 (no
    # `#[path]`, no `extern crate`), examples of builder 2 that found nothing.
    config = Config()
    config.set_main_option("script_location", str(resource_dir("migrations")))
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM mods WHERE crate IS NOT NULL")
        config.attributes["connection"] = conn
        command.downgrade(config, "0006")
        conn.exec_driver_sql("UPDATE blobs SET parser_version = 2")
        conn.exec_driver_sql("UPDATE repos SET examples_version = 2")
        conn.exec_driver_sql("UPDATE examples SET resolved = '[]'")
    engine.dispose()
    assert cli("backfill", "--repo", repo.path).exit_code == 0
    assert dump_store(url) == fresh
    assert _resolved(repo)["main"][0] == ("Config -> src/impl/config.rs::Config",)


def test_manifests_that_say_the_same_of_their_crates_share_one_key() -> None:
    base = _manifest("app", extra='[dependencies]\nserde = "1"\ncore = { path = "../core" }\n')
    bumped = base.replace('version = "0.1.0"', 'version = "0.2.0"').replace('"1"', '"1.0.2"')
    assert manifest_key(base.encode()) == manifest_key(bumped.encode())
    for changed in (
        base.replace('"../core"', '"../other"'),  # another path dependency
        base.replace('edition = "2021"', 'edition = "2018"'),
        base + '\n[[bin]]\nname = "tool"\npath = "src/tool.rs"\n',
        base.replace('name = "app"', 'name = "app2"'),
        base + '\n[lib]\npath = "lib.rs"\n',
        base.replace("[dependencies]", "[dev-dependencies]"),
    ):
        assert manifest_key(changed.encode()) != manifest_key(base.encode()), changed
    workspace = '[workspace]\nmembers = ["a"]\n[workspace.package]\nedition = "2021"\n'
    assert manifest_key(workspace.encode()) != manifest_key(
        workspace.replace("2021", "2018").encode()
    )
    assert manifest_key(b"not [toml") == "broken"


def test_a_module_another_crate_re_exports_whole_leads_to_its_file(repo: Repo) -> None:
    repo.commit(
        {
            "Cargo.toml": '[workspace]\nmembers = ["shapes", "app"]\n',
            "shapes/Cargo.toml": _manifest("shapes"),
            "shapes/src/lib.rs": "pub mod square;\n",
            "shapes/src/square.rs": "pub struct Square {\n    pub side: u32,\n}\n",
            "app/Cargo.toml": _manifest(
                "app", extra='[dependencies]\nshapes = { path = "../shapes" }\n'
            ),
            "app/src/lib.rs": "pub use shapes::square;\npub mod draw;\n",
            "app/src/draw.rs": "pub fn area() -> u32 {\n    0\n}\n",
        },
        "start",
    )
    repo.commit(
        {
            "app/src/draw.rs": "use crate::square::Square;\n\n"
            "pub fn area(s: &Square) -> u32 {\n    s.side * s.side\n}\n"
        },
        "area of a square",
    )
    resolved, _unresolved = _resolved(repo)["area"]
    assert _targets(resolved) == {"shapes/src/square.rs::Square"}
