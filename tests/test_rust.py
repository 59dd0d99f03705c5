"""The Rust parser on known code: items, qualified names, uses, mods, bad blobs."""

from __future__ import annotations

import pytest

from indexer.rust import (
    MAX_NESTING,
    PARSER_VERSION,
    ParsedBlob,
    Use,
    changed_since,
    module_path,
    parse_blob,
    resolve_use,
)

SOURCE = b"""//! Crate docs are not an item.
use std::collections::{HashMap, btree_map::{self, Entry as BEntry}};
use crate::model::*;
use super::config::Config as Cfg;
pub use self::inner::Thing;

/// A point.
#[derive(Debug, Clone)]
pub struct Point<T: Copy> where T: Default {
    pub x: T,
    pub y: T,
}

pub enum Shape { Circle(f64), Square { side: f64 } }

pub union Bits { i: u32, f: f32 }

pub trait Area {
    const SIDES: u32;
    type Unit;
    fn area(&self) -> f64;
    fn describe(&self) -> String { format!("{}", self.area()) }
}

impl<T: Copy + Default> Point<T> {
    pub fn new(x: T, y: T) -> Self { Self { x, y } }
}

impl Area for Shape {
    const SIDES: u32 = 0;
    type Unit = f64;
    fn area(&self) -> f64 {
        fn helper() -> f64 { 1.0 } // nested fns are not items of the file
        helper()
    }
}

impl<T> std::fmt::Display for Point<T> where T: Copy + Default {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result { Ok(()) }
}

pub type Grid = Vec<Vec<Point<i32>>>;
pub const ORIGIN: (i32, i32) = (0, 0);
static mut COUNTER: u64 = 0;

macro_rules! square {
    ($x:expr) => { $x * $x };
}

mod inner {
    use super::Point;
    pub struct Thing;
    pub fn make() -> Point<i32> { Point::new(0, 0) }
}

mod elsewhere;

extern "C" {
    fn abs(x: i32) -> i32;
}

async fn fetch() {}
const fn answer() -> u32 { 42 }
"""


def _items(parsed: ParsedBlob) -> list[tuple]:
    return {(i.kind, i.qualname) for i in parsed.items}


def test_items_kinds_and_qualified_names() -> None:
    parsed = parse_blob(SOURCE)
    assert parsed.status == "parsed" and parsed.reason is None
    assert _items(parsed) == {
        ("struct", "Point"),
        ("enum", "Shape"),
        ("union", "Bits"),
        ("trait", "Area"),
        ("const", "Area::SIDES"),
        ("type", "Area::Unit"),
        ("method", "Area::area"),
        ("method", "Area::describe"),
        ("impl", "impl Point<T>"),
        ("method", "impl Point<T>::new"),
        ("impl", "impl Area for Shape"),
        ("const", "impl Area for Shape::SIDES"),
        ("type", "impl Area for Shape::Unit"),
        ("method", "impl Area for Shape::area"),
        ("impl", "impl std::fmt::Display for Point<T>"),
        ("method", "impl std::fmt::Display for Point<T>::fmt"),
        ("type", "Grid"),
        ("const", "ORIGIN"),
        ("static", "COUNTER"),
        ("macro", "square"),
        ("mod", "inner"),
        ("struct", "inner::Thing"),
        ("fn", "inner::make"),
        ("fn", "abs"),
        ("fn", "fetch"),
        ("fn", "answer"),
    }


def test_item_ranges_include_docs_and_attributes() -> None:
    parsed = parse_blob(SOURCE)
    point = next(i for i in parsed.items if i.qualname == "Point")
    code = SOURCE[point.start_byte : point.end_byte].decode()
    assert code.startswith("/// A point.\n#[derive(Debug, Clone)]\npub struct Point")
    assert code.endswith("}")
    assert SOURCE[point.item_byte :].startswith(b"pub struct Point")
    assert SOURCE[point.body_byte :].startswith(b"{\n    pub x: T")
    assert (point.start_line, point.end_line) == (7, 12)
    trait_method = next(i for i in parsed.items if i.qualname == "Area::area")
    assert trait_method.body_byte is None  # a signature without a body


def test_uses_are_expanded() -> None:
    parsed = parse_blob(SOURCE)
    uses = {(u.path, u.alias, u.is_glob, u.scope) for u in parsed.uses}
    assert uses == {
        ("std::collections::HashMap", None, False, ""),
        ("std::collections::btree_map", None, False, ""),
        ("std::collections::btree_map::Entry", "BEntry", False, ""),
        ("crate::model", None, True, ""),
        ("super::config::Config", "Cfg", False, ""),
        ("self::inner::Thing", None, False, ""),
        ("super::Point", None, False, "inner"),
    }


def test_mod_declarations() -> None:
    parsed = parse_blob(SOURCE)
    assert {(d.name, d.scope, d.inline) for d in parsed.mods} == {
        ("inner", "", True),
        ("elsewhere", "", False),
    }


def test_path_attributes_and_extern_crates_are_declarations() -> None:
    parsed = parse_blob(
        b'#[path = "sys/unix.rs"]\n#[cfg(unix)]\npub mod sys;\n'
        b'/// Docs, an attribute and a comment between.\n#[path = r"gen.rs"]\n// why\n'
        b"mod generated;\n"
        b'#[path = "threads"]\nmod thread {\n    #[path = "tls.rs"]\n    mod local;\n}\n'
        b'#[path = concat!("a", ".rs")]\nmod from_a_macro;\n#[doc = "x"]\nmod plain;\n'
        b"extern crate shapes as geo;\n#[macro_use]\nextern crate self as me;\n"
        b"extern crate log;\n"
    )
    assert parsed.status == "parsed"
    assert [(d.name, d.scope, d.inline, d.path, d.crate) for d in parsed.mods] == [
        ("sys", "", False, "sys/unix.rs", None),
        ("generated", "", False, "gen.rs", None),
        ("thread", "", True, "threads", None),
        ("from_a_macro", "", False, None, None),
        ("plain", "", False, None, None),
        ("geo", "", False, None, "shapes"),
        ("me", "", False, None, "self"),
        ("log", "", False, None, "log"),
        ("local", "thread", False, "tls.rs", None),
    ]


@pytest.mark.parametrize(
    ("version", "data", "changed"),
    [
        (2, b"use std::path::Path;\nfn f(path: &Path) {}\n", False),
        (2, b'#[path = "x.rs"]\nmod x;\n', True),
        (2, b"#[ path\n= 'x.rs' ]\nmod x;\n", True),
        (2, b"extern  crate\nlog;\n", True),
        (1, b"fn f() {}\n", True),  # version 2 may change any blob
        (PARSER_VERSION, b'#[path = "x.rs"]\nmod x;\n', False),  # none newer
    ],
)
def test_which_blobs_an_older_parser_read_differently(
    version: int, data: bytes, changed: bool
) -> None:
    assert changed_since(version, data) is changed


def test_design_example_use_tree() -> None:
    parsed = parse_blob(b"use a::{b, c::{d as e}, f::*};")
    assert [(u.path, u.alias, u.is_glob) for u in parsed.uses] == [
        ("a::b", None, False),
        ("a::c::d", "e", False),
        ("a::f", None, True),
    ]


@pytest.mark.parametrize(
    ("path", "module"),
    [
        ("src/lib.rs", ("crate",)),
        ("src/main.rs", ("crate",)),
        ("src/model/mod.rs", ("crate", "model")),
        ("src/model/user.rs", ("crate", "model", "user")),
        ("crates/core/src/io.rs", ("crate", "io")),
        ("src/bin/tool.rs", ("crate",)),
        ("build.rs", ("crate", "build")),
    ],
)
def test_module_path(path: str, module: tuple[str, ...]) -> None:
    assert module_path(path) == module


@pytest.mark.parametrize(
    ("use", "resolved"),
    [
        (Use("self::x::Y", None, False, "", 1), "crate::model::user::x::Y"),
        (Use("super::Config", None, False, "", 1), "crate::model::Config"),
        (Use("super::super::Z", None, False, "", 1), "crate::Z"),
        (Use("super::Thing", None, False, "tests", 1), "crate::model::user::Thing"),
        (Use("crate::a::B", None, False, "", 1), "crate::a::B"),
        (Use("std::fmt", None, False, "", 1), "std::fmt"),
    ],
)
def test_resolve_use(use: Use, resolved: str) -> None:
    assert resolve_use(use, "src/model/user.rs") == resolved


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"fn main() {}\0\0\0", "binary"),
        (b"fn main() {}\n" * 700 + b"fn late() { /* \0 */ }", "binary"),  # past git's sniff
        (b'fn f() { let s = "caf\xe9"; }', "non_utf8"),
        (b"// " + b"x" * 20_000, "too_large"),
    ],
)
def test_bad_blobs_are_skipped_with_a_reason(data: bytes, reason: str) -> None:
    parsed = parse_blob(data, max_bytes=10_000)
    assert (parsed.status, parsed.reason, parsed.items) == ("skipped", reason, ())


def test_syntax_error_keeps_what_is_recovered() -> None:
    parsed = parse_blob(b"fn ok() {}\nfn broken( {\nstruct After { a: u8 }\n")
    assert (parsed.status, parsed.reason) == ("partial", "syntax_error")
    assert ("fn", "ok") in _items(parsed)


def test_deep_nesting_does_not_recurse() -> None:
    depth = 5000
    expr = b"fn f() { let x = " + b"(" * depth + b"1" + b")" * depth + b"; }"
    assert parse_blob(expr).status in ("parsed", "partial")
    mods = b"mod a { " * depth + b"fn deep() {}" + b" }" * depth
    parsed = parse_blob(mods)
    assert (parsed.status, parsed.reason) == ("partial", "too_deep")
    deepest = max(parsed.items, key=lambda i: i.qualname.count("::"))
    assert deepest.qualname == "::".join(["a"] * (MAX_NESTING + 1))


def test_nesting_up_to_the_limit_is_whole() -> None:
    depth = MAX_NESTING + 1  # the innermost fn's path has MAX_NESTING + 2 parts
    mods = b"mod a { " * depth + b"fn deep() {}" + b" }" * depth
    parsed = parse_blob(mods)
    assert (parsed.status, parsed.reason) == ("partial", "too_deep")
    mods = b"mod a { " * MAX_NESTING + b"fn deep() {}" + b" }" * MAX_NESTING
    parsed = parse_blob(mods)
    assert (parsed.status, parsed.reason) == ("parsed", None)
    assert ("fn", "::".join(["a"] * MAX_NESTING + ["deep"])) in _items(parsed)


def test_bom_and_crlf_keep_names_and_lines() -> None:
    data = "\ufeffuse a::b;\r\n\r\n/// doc\r\npub fn first() {}\r\nstruct Second;\r\n".encode()
    parsed = parse_blob(data)
    assert [(i.name, i.start_line, i.end_line) for i in parsed.items] == [
        ("first", 3, 4),
        ("Second", 5, 5),
    ]
    assert [u.path for u in parsed.uses] == ["a::b"]
