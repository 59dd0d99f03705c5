"""Cross-file context: the definitions from other files that a change relies on.

The names an item's code refers to (types, traits, called functions, macros, paths)
are resolved against the symbol table at the PARENT commit (the state the author
saw): first through the file's own `use` declarations (aliases and globs included),
then in the parent module, then as a unique name in the crate. Crates are Cargo's
(`cargo.py`): a path may lead into the package's own library or a path dependency,
through `pub use` re-exports, and a 2015 crate's use paths start at its root. A file
a `#[path]` attribute names is at the module it declares (`path_mods.py`), and a crate
root's `extern crate x as y;` makes `y` name `x`. Each definition found is shown as
text by `text.py`: structs, enums, unions, type aliases and consts whole, traits with
their method signatures, functions as signatures only.

References are found with a tokenizer over the code with comments and literals
blanked, not with a parse: a name that is not defined in the crate resolves to
nothing, so a stray word costs nothing but a lookup.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

from indexer.rust.cargo import Cargo, Crate
from indexer.rust.path_mods import Place, placed_by_path
from indexer.rust.syntax import ModDecl, Use, module_path, resolve_use_in

EXTERNAL_ROOTS = frozenset({"std", "core", "alloc"})
# The standard library's macros a crate names without importing them.
STD_MACROS = frozenset(
    "assert assert_eq assert_ne cfg column compile_error concat dbg debug_assert "
    "debug_assert_eq debug_assert_ne env eprint eprintln file format format_args "
    "include include_bytes include_str line matches module_path option_env panic print "
    "println stringify thread_local todo unimplemented unreachable vec write writeln".split()
)
# The types and traits of the standard prelude, named without an import.
STD_PRELUDE = frozenset(
    "Box Clone Copy Default Drop Eq Err Extend Fn FnMut FnOnce From Hash Into IntoIterator "
    "Iterator None Ok Option Ord PartialEq PartialOrd Result Send Sized Some String "
    "ToOwned ToString TryFrom TryInto Vec".split()
)
# Kinds that can be context; impls and mods are containers, not definitions to show.
DEFINITION_KINDS = {"struct", "enum", "union", "trait", "type", "const", "static", "fn", "macro"}

# Comments and string literals. Each pattern starts with a lookahead of the bytes a
# match can start with: `re` then skips every other position at once instead of
# trying each alternative (or a lookbehind) there. On dtolnay/syn's sources cut in
# item-sized pieces, with the same matches: 2.4x faster for this one, a third and a
# tenth faster for the next two.
_BLANKED = re.compile(
    rb"(?=[/br\"'])(?://[^\n]*|/\*.*?\*/|b?r(#*)\".*?\"\1|b?\"(?:\\.|[^\"\\])*\"|b?'(?:\\.|[^'\\])')",
    re.S,
)
# Paths (`a::B`) and CamelCase names, then lower-case names that are called or are
# macros; never after a `.` (methods, fields) or inside another word.
_TYPE_OR_PATH = re.compile(
    rb"(?=[A-Za-z_])(?<![\w.:])((?:[A-Za-z_]\w*::)+[A-Za-z_]\w*|[A-Z]\w*)(!?)"
)
_CALL = re.compile(rb"(?=[a-z_])(?<![\w.:])(?<!fn )([a-z_]\w*)\s*(!|\()")
_KEYWORDS = frozenset(
    "as async await break const continue crate dyn else enum extern false fn for if impl in"
    " let loop match mod move mut pub ref return self Self static struct super trait true"
    " type union unsafe use where while u8 u16 u32 u64 u128 usize i8 i16 i32 i64 i128 isize"
    " f32 f64 bool char str String Vec Option Some None Result Ok Err Box macro_rules".split()
)


class Definition(NamedTuple):
    """An item of a blob at the parent commit, as the symbol table knows it. A named
    tuple, not a dataclass: a backfill makes millions of them (every item of every
    blob read), and a tuple is made in a fifth of the time."""

    path: str
    blob: str
    kind: str
    name: str
    qualname: str
    start_byte: int
    item_byte: int
    body_byte: int | None
    end_byte: int


@lru_cache(maxsize=1024)
def references(code: bytes) -> Counter[str]:
    """Names and paths the code mentions, with counts; macros end with `!`.

    Kept: paths (`a::B`), CamelCase names (types, traits, variants), macros, and
    snake_case names that are called (`load(`); other lower-case words are locals,
    fields and methods, which no file-level definition could explain. Cached: an
    item's old code is usually the new code of its previous change. Do not mutate.
    """
    blanked = _BLANKED.sub(b" ", code)
    found: Counter[str] = Counter()
    for path, bang in _TYPE_OR_PATH.findall(blanked):
        name = path.decode()
        if name.rsplit("::", 1)[-1] not in _KEYWORDS and name not in ("Self",):
            found[name + bang.decode()] += 1
    for name, mark in _CALL.findall(blanked):
        text = name.decode()
        if text not in _KEYWORDS:
            found[text + ("!" if mark == b"!" else "")] += 1
    return found


@lru_cache(maxsize=65536)
def crate_root(path: str) -> str:
    """The folder of the crate a file belongs to (`crates/x/` for `crates/x/src/a.rs`)."""
    parts = path.split("/")
    if "src" in parts:
        return "/".join(parts[: len(parts) - parts[::-1].index("src") - 1])
    return ""


_new_tuple = tuple.__new__  # a Definition without its constructor's Python-level cost


def definitions(blob: str, rows: list[tuple], path: str = "") -> list[Definition]:
    """Definitions of a blob's item rows, (kind, name, qualname, start_byte, item_byte,
    body_byte, end_byte), at `path` (or none yet). Made with tuple.__new__: the named
    tuple's own constructor is Python code, and a backfill makes millions of these."""
    head = (path, blob)
    return [_new_tuple(Definition, head + row) for row in rows]


@dataclass(frozen=True)
class BlobIndex:
    """What one blob contributes to a symbol table, whatever its path: definitions by
    (inline-module scope, name), its `use`s by the local name they bind, its glob
    `use`s by scope, the `mod` declarations that say where files are (`mod name;`, and
    inline modules with a `#[path]`), and its top-level `extern crate`s."""

    definitions: dict[tuple[tuple[str, ...], str], list[Definition]]
    uses: dict[tuple[tuple[str, ...], str], str]
    globs: dict[tuple[str, ...], list[str]]
    mods: tuple[ModDecl, ...] = ()
    crates: dict[str, str] = field(default_factory=dict)  # name bound -> the crate named
    path_attributes: bool = False  # does a `mod` here have a `#[path]`?


def index_blob(
    path: str, items: list[Definition], uses: list[Use], mods: Sequence[ModDecl] = ()
) -> BlobIndex:
    """The index of the blob at `path`: its definitions, carrying that path."""
    definitions: dict[tuple[tuple[str, ...], str], list[Definition]] = {}
    for d in items:
        if d.kind in DEFINITION_KINDS:
            if d.path != path:  # items read for the index come with it
                d = _new_tuple(Definition, (path, *d[1:]))
            scope = tuple(d.qualname.split("::")[:-1])
            definitions.setdefault((scope, d.name), []).append(d)
    bound: dict[tuple[tuple[str, ...], str], str] = {}
    globs: dict[tuple[str, ...], list[str]] = {}
    for use in uses:
        scope = tuple(use.scope.split("::")) if use.scope else ()
        if use.is_glob:
            globs.setdefault(scope, []).append(use.path)
        else:
            bound.setdefault((scope, use.alias or use.path.split("::")[-1]), use.path)
    if not mods:
        return BlobIndex(definitions, bound, globs)
    files = tuple(d for d in mods if d.crate is None and (not d.inline or d.path is not None))
    crates = {d.name: d.crate for d in mods if d.crate is not None and not d.scope}
    with_path = any(d.path is not None for d in files)
    return BlobIndex(definitions, bound, globs, files, crates, with_path)


@dataclass(frozen=True)
class _Layout:
    """Where a table's files are, shared by the tables of trees with the same paths:
    (crate, module) -> paths, crate -> paths, the files declaring a module with a
    `#[path]`, and the files those attributes lead to, with their places."""

    modules: dict[tuple[str, tuple[str, ...]], list[str]]
    crates: dict[str, list[str]]
    seeds: frozenset[str]
    by_path: dict[str, dict[str, tuple[str, ...]]]  # path -> crate -> module (`placed_by_path`)
    placed: dict[str, tuple[Place, ...]]  # path -> every place of a file in by_path


class SymbolTable:
    """The definitions visible at one commit: its files (path -> blob) and each blob's
    index. Blob indexes are shared between commits by the caller's cache, and a table
    made `at` a tree from another tree's table shares all it can with it, so its cost
    follows the files that differ, not the size of the tree.

    A module that does not define a name itself may re-export it (`pub use user::User`
    in model/mod.rs): those are followed, a few hops at most. A file is in the modules
    its path gives it, unless `#[path]` attributes lead to it (`path_mods.py`).
    """

    def __init__(
        self,
        files: dict[str, BlobIndex],
        blobs: dict[str, str] | None = None,
        layout: _Layout | None = None,
        named: dict[str, dict[str, list[Definition]]] | None = None,
        cargo: Cargo | None = None,
        seeds: frozenset[str] | None = None,
    ) -> None:
        self.files = files  # path -> the index of the blob there (its definitions carry the path)
        self.cargo = cargo if cargo else None  # None: crates and modules from paths alone
        self.blobs = blobs or {}  # path -> blob: what `at` compares
        # crate -> name -> file-level definitions, built on a crate's first `named`
        self._named = named if named is not None else {}
        self._in_module: dict[tuple[str, tuple[str, ...], str], list[Definition]] = {}
        self._externs: dict[str, dict[str, str | None]] = {}
        # resolve's memos, valid for this commit: (path, ref) -> candidates, path -> scope
        self.resolved: dict[tuple[str, str], list[Definition]] = {}
        self.scopes: dict[str, FileScope] = {}
        # given when the paths are another table's, which computed them
        self.layout = layout if layout is not None else self._layout_of(seeds)
        self.modules, self.crates = self.layout.modules, self.layout.crates

    def _layout_of(self, seeds: frozenset[str] | None) -> _Layout:
        """Where the files are, with `seeds` (found if not given) the files declaring a
        module with a `#[path]`."""
        if seeds is None:
            seeds = frozenset(p for p, index in self.files.items() if index.path_attributes)
        by_path = self._by_path(seeds)
        placed = {path: self._attached(path, found) for path, found in by_path.items()}
        layout = _Layout({}, {}, seeds, by_path, placed)
        for path in sorted(self.files):
            for crate, module in self.places(path, layout):
                layout.modules.setdefault((crate, module), []).append(path)
                layout.crates.setdefault(crate, []).append(path)
        return layout

    def _by_path(self, seeds: frozenset[str]) -> dict[str, dict[str, tuple[str, ...]]]:
        files = self.files
        return placed_by_path(seeds, lambda p: files[p].mods, self._own_places, files)

    def _attached(self, path: str, found: dict[str, tuple[str, ...]]) -> tuple[Place, ...]:
        """The places of a file `#[path]` attributes lead to: those its own path gives
        it in other crates (first: a build script's `#[path = "src/cli.rs"]` leaves
        the file the library's), then the modules the attributes give it."""
        own = self.cargo.crates_of(path) if self.cargo is not None else self._own_places(path)
        return (*(p for p in own if p[0] not in found), *found.items())

    def places(self, path: str, layout: _Layout | None = None) -> tuple[Place, ...]:
        """The crates (by key) the file is part of, each with its module there; the
        first is where its own names are resolved. Where `#[path]` attributes lead to
        it, theirs; else Cargo's word, or without it, one: the folder above its last
        `src/`, and the module its path gives."""
        placed = (layout or self.layout).placed.get(path)
        return placed if placed is not None else self._own_places(path)

    def _own_places(self, path: str) -> tuple[Place, ...]:
        """`places` from the file's own path alone."""
        if self.cargo is not None:
            found = self.cargo.crates_of(path)
            if found:
                return found
        return ((crate_root(path), module_path(path)),)

    def crate(self, key: str) -> Crate | None:
        return self.cargo.crates.get(key) if self.cargo is not None else None

    def externs(self, crate: str) -> Mapping[str, str | None]:
        """The crates `crate` names, by the name in code: Cargo's (`Crate.externs`),
        and the names its root's `extern crate x as y;` bind (None: a crate not ours)."""
        found = self._externs.get(crate)
        if found is not None:
            return found
        found = self._externs[crate] = {}
        info = self.crate(crate)
        if info is not None:
            found.update(info.externs)
            root = self.files.get(info.root)
            for name, named in (root.crates if root is not None else {}).items():
                found[name] = crate if named == "self" else info.externs.get(named)
        return found

    def absolute(
        self, path: str, crate: str, module: tuple[str, ...]
    ) -> tuple[str, tuple[str, ...]] | None:
        """A use path as written in `module` of `crate`, made absolute: the crate it
        leads into and the path there. `crate::` as is; a library the crate can name
        (its package's, a path dependency, either by an `extern crate` alias too:
        `externs`); in a 2015 crate, any other path from the crate's root; else a path
        into a child module, relative to it. None for std and other crates (a head that
        is no module of ours)."""
        parts = tuple(path.split("::"))
        info = self.crate(crate)
        old_paths = info is not None and info.edition == "2015"
        if parts[0] == "":  # `::a::b`: the crate's root in 2015, another crate since
            parts = parts[1:]
            if old_paths:
                return (crate, ("crate", *parts))
            if not parts:
                return None  # `use ::*;`, which only 2015 allows
        if parts[0] == "crate":
            return (crate, parts)
        externs = self.externs(crate)
        if parts[0] in externs:
            key = externs[parts[0]]
            return (key, ("crate", *parts[1:])) if key is not None else None
        if parts[0] in EXTERNAL_ROOTS or not parts[0]:
            return None
        if old_paths:
            return (crate, ("crate", *parts))
        if (crate, (*module, parts[0])) in self.modules:
            return (crate, (*module, *parts))  # a child module's: `user::User` in model/mod.rs
        return None  # another crate's

    @classmethod
    def at(
        cls,
        blobs: dict[str, str],
        index: Callable[[str, str], BlobIndex | None],
        previous: SymbolTable | None = None,
        cargo: Cargo | None = None,
    ) -> SymbolTable:
        """The table of a tree (`blobs`: path -> blob, its crates `cargo`), indexing
        blobs with `index`; from `previous` (another tree's table) where given, redoing
        only what differs."""
        cargo = cargo if cargo else None
        if previous is None:
            files = {p: i for p, b in blobs.items() if (i := index(p, b)) is not None}
            return cls(files, blobs, cargo=cargo)
        old = previous.blobs
        changed = [p for p, b in blobs.items() if old.get(p) != b]
        changed += [p for p in old if p not in blobs]
        files = dict(previous.files)
        for path in changed:
            blob = blobs.get(path)
            found = index(path, blob) if blob is not None else None
            if found is None:
                files.pop(path, None)
            else:
                files[path] = found
        seeds = previous.layout.seeds.difference(changed).union(
            p for p in changed if p in files and files[p].path_attributes
        )
        if files.keys() != previous.files.keys() or cargo is not previous.cargo:
            # paths came or went, or the manifests changed: modules and crates anew
            return cls(files, blobs, cargo=cargo, seeds=seeds)
        table = cls(files, blobs, previous.layout, cargo=cargo)
        if table._moved(previous.layout, changed, seeds):
            return cls(files, blobs, cargo=cargo, seeds=seeds)
        # The same paths in the same places: the same modules and crates, and the name
        # index of every crate changes only by the names of the changed files.
        named = dict(previous._named)
        crates_of = {p: {c for c, _m in previous.places(p)} for p in changed}
        for crate in set().union(*crates_of.values()) & named.keys():
            paths = [p for p in changed if crate in crates_of[p] and p in files]
            named[crate] = _renamed(
                previous._named[crate],
                paths,
                [previous.files[p] for p in paths],
                [files[p] for p in paths],
            )
        table._named = named
        return table

    def _moved(self, layout: _Layout, changed: list[str], seeds: frozenset[str]) -> bool:
        """Do the changed files put files elsewhere than `layout` says (with `seeds`,
        the files that now declare a module with a `#[path]`)? Only their `mod`
        declarations can, and only those of seeds and of files an attribute leads to."""
        old = layout.seeds
        if not any(p in seeds or p in old or p in layout.by_path for p in changed):
            return False
        return seeds != old or self._by_path(seeds) != layout.by_path

    def _defined(self, crate: str, module: tuple[str, ...], name: str) -> list[Definition]:
        found: list[Definition] = []
        for cut in range(len(module), 0, -1):  # a file's module, then inline mods inside it
            scope = module[cut:]
            for path in self.modules.get((crate, module[:cut]), ()):
                found.extend(self.files[path].definitions.get((scope, name), ()))
        return found

    def _reexport(
        self, crate: str, module: tuple[str, ...], name: str
    ) -> tuple[str, tuple[str, ...]] | None:
        """The `use` in `module` that binds `name`, absolute: (crate, path)."""
        for cut in range(len(module), 0, -1):
            for path in self.modules.get((crate, module[:cut]), ()):
                target = self.files[path].uses.get((module[cut:], name))
                if target is not None:
                    return self.absolute(_in(target, module), crate, module)
        return None

    def _globs(self, crate: str, module: tuple[str, ...]) -> list[tuple[str, tuple[str, ...]]]:
        """The modules `module`'s glob `use`s bring names from, absolute."""
        found = []
        for cut in range(len(module), 0, -1):
            for path in self.modules.get((crate, module[:cut]), ()):
                for glob in self.files[path].globs.get(module[cut:], ()):
                    absolute = self.absolute(_in(glob, module), crate, module)
                    if absolute is not None and absolute != (crate, module):
                        found.append(absolute)
        return found

    def in_module(self, crate: str, module: tuple[str, ...], name: str) -> list[Definition]:
        key = (crate, module, name)
        if key not in self._in_module:
            self._in_module[key] = self._follow(crate, module, name)
        return self._in_module[key]

    def _follow(
        self, crate: str, module: tuple[str, ...], name: str, hops: int = 4
    ) -> list[Definition]:
        """The definitions of `name` in `module`, following re-exports of re-exports
        (plain, aliased, glob, of the module itself; across crates) within reason."""
        found = self._defined(crate, module, name)
        if found or hops == 0:
            return found
        target = self._reexport(crate, module, name)
        if target is not None:
            return self._follow(target[0], target[1][:-1], target[1][-1], hops - 1)
        for glob_crate, glob_module in self._globs(crate, module):
            found = self._follow(glob_crate, glob_module, name, hops - 1)
            if found:
                return found
        if len(module) > 1:  # a module re-exported whole: `pub use synom::delimited;`
            moved = self._reexport(crate, module[:-1], module[-1])
            if moved is not None and moved != (crate, module):
                return self._follow(moved[0], moved[1], name, hops - 1)
        return []

    def named(self, crate: str, name: str) -> list[Definition]:
        """Every file-level definition called `name` in the crate (the last resort), and
        every macro of that name, in no particular order."""
        if crate not in self._named:  # one pass over the crate's files, then lookups
            by_name: dict[str, list[Definition]] = {}
            for path in self.crates.get(crate, ()):
                for defined, found in _top_level(self.files[path]):
                    by_name.setdefault(defined, []).extend(found)
            self._named[crate] = by_name
        return self._named[crate].get(name, [])


def _top_level(index: BlobIndex) -> list[tuple[str, list[Definition]]]:
    """A file's definitions the crate-wide index holds: those at its top level, and
    macros in inline modules too (`#[macro_use] mod debug_macros { macro_rules! .. }`:
    a macro's scope is the text after it, not its module)."""
    return [
        (name, found if not scope else [d for d in found if d.kind == "macro"])
        for (scope, name), found in index.definitions.items()
        if not scope or any(d.kind == "macro" for d in found)
    ]


def _renamed(
    by_name: dict[str, list[Definition]],
    paths: list[str],
    gone: list[BlobIndex],
    came: list[BlobIndex],
) -> dict[str, list[Definition]]:
    """A crate's name index with the definitions at `paths` (`gone`, their indexes
    before) replaced by `came` (after): a copy, for `by_name` is shared."""
    updated = dict(by_name)
    replaced = set(paths)
    touched = {name for index in gone for name, _found in _top_level(index)}
    for name in touched:
        kept = [d for d in updated[name] if d.path not in replaced]
        if kept:
            updated[name] = kept
        else:
            del updated[name]
    for index in came:
        for name, found in _top_level(index):
            updated[name] = [*updated.get(name, ()), *found]
    return updated


def _in(path: str, module: tuple[str, ...]) -> str:
    """A use path written in `module`, with `self::` and `super::` made absolute."""
    return resolve_use_in(Use(path, None, False, "", 0), module)


def resolve(
    refs: Counter[str],
    path: str,
    uses: list[Use],
    table: SymbolTable,
) -> tuple[list[tuple[Definition, int]], list[str], list[str]]:
    """Definitions in other files for each referenced name, most referenced first."""
    if path not in table.scopes:  # the same for every item of the file in this commit
        table.scopes[path] = _scope(uses, path, table)
    scope = table.scopes[path]
    found: dict[tuple[str, str], tuple[Definition, int]] = {}
    resolved, unresolved = [], []
    for ref, count in sorted(refs.items(), key=lambda kv: (-kv[1], kv[0])):
        parts = ref.rstrip("!").split("::")
        # The items of one file in one commit share its imports: resolve each name once.
        memo = (path, ref)
        if memo not in table.resolved:
            table.resolved[memo] = _one(_lookup(ref, parts, scope, table))
        candidates = table.resolved[memo]
        if any(d.path == path for d in candidates):
            unresolved.append(f"{ref} (defined in this file)")
            continue
        if len(candidates) != 1:
            reason = "ambiguous" if candidates else _why_not(ref, scope)
            unresolved.append(f"{ref} ({reason})")
            continue
        definition = candidates[0]
        key = (definition.path, definition.qualname)
        if key in found:
            found[key] = (definition, found[key][1] + count)
        else:
            found[key] = (definition, count)
        resolved.append(f"{ref} -> {definition.path}::{definition.qualname}")
    ordered = sorted(found.values(), key=lambda dc: (-dc[1], dc[0].path, dc[0].qualname))
    return ordered, resolved, unresolved


@dataclass(frozen=True)
class FileScope:
    """What names mean in one file: its crate and module, and what its uses bring in
    (local name -> (crate, absolute path), or None for std and other crates; and the
    modules of its glob imports)."""

    path: str
    crate: str
    module: tuple[str, ...]
    imported: dict[str, tuple[str, tuple[str, ...]] | None]
    written: dict[str, str]  # local name -> the use's path, as written
    globs: list[tuple[str, tuple[str, ...]]]


def _scope(uses: list[Use], path: str, table: SymbolTable) -> FileScope:
    crate, module = table.places(path)[0]
    imported: dict[str, tuple[str, tuple[str, ...]] | None] = {}
    written: dict[str, str] = {}
    globs: list[tuple[str, tuple[str, ...]]] = []
    # The file's own uses first; a name bound twice (by an inline module's use, or
    # under two `#[cfg]`s) keeps the binding that leads into a crate of ours.
    for use in sorted(uses, key=lambda u: u.scope != ""):
        scope = (*module, *(use.scope.split("::") if use.scope else ()))
        absolute = table.absolute(resolve_use_in(use, module), crate, scope)
        if use.is_glob:
            if absolute is not None:
                globs.append(absolute)
            continue
        local = use.alias or use.path.split("::")[-1]
        if imported.get(local) is None:
            imported[local] = absolute
            written[local] = use.path
    return FileScope(path, crate, module, imported, written, globs)


def _lookup(ref: str, parts: list[str], scope: FileScope, table: SymbolTable) -> list[Definition]:
    # `Error::Invalid`, `User::new`: try the whole path, then its head (the type).
    macro = ref.endswith("!")
    for length in range(len(parts), 0, -1):
        candidates = _candidates(parts[:length], scope, table)
        candidates = [d for d in candidates if (d.kind == "macro") == macro]
        if candidates:
            return candidates
    if macro:
        # `#[macro_export]` puts a macro at its crate's root wherever it is defined,
        # and `#[macro_use]` brings a crate's macros in by name.
        externs = table.externs(scope.crate).values()
        crates = [scope.crate, *(key for key in externs if key is not None)]
        found = [
            d for c in dict.fromkeys(crates) for d in table.named(c, parts[-1]) if d.kind == "macro"
        ]
        found = _one(found)
        return found if len(found) == 1 else []
    return []


def _why_not(ref: str, scope: FileScope) -> str:
    head = ref.rstrip("!").split("::")[0]
    if head in scope.written and scope.imported.get(head) is None:
        return f"external: {scope.written[head].split('::')[0]}"
    if ref.endswith("!"):
        return "external: std" if head in STD_MACROS else "not found"
    if head in EXTERNAL_ROOTS or head in STD_PRELUDE:
        return "external: std"
    return "not found"


def _candidates(parts: list[str], scope: FileScope, table: SymbolTable) -> list[Definition]:
    head, name = parts[0], parts[-1]
    crate, own_module = scope.crate, scope.module
    # 1. The imported path: `use crate::a::B` (or an alias), or `a::B` through `use crate::a`.
    if head in scope.imported:
        base = scope.imported[head]
        if base is None:
            return []  # std or an external crate
        absolute = (*base[1], *parts[1:])
        return table.in_module(base[0], absolute[:-1], absolute[-1])
    if head == "crate" and len(parts) > 1:
        return table.in_module(crate, tuple(parts[:-1]), name)
    if head in ("self", "super") and len(parts) > 1:
        absolute = tuple(_in("::".join(parts), own_module).split("::"))
        return table.in_module(crate, absolute[:-1], absolute[-1])
    if len(parts) > 1:
        # `other_crate::Type`, or `::a::B` (2015), or a child module's `model::User`
        found = table.absolute("::".join(parts), crate, own_module)
        if found is None or (found[0] == crate and (crate, found[1][:-1]) not in table.modules):
            return []  # `Foo::new`, `std::mem::take`: the head decides, and it is not ours
        return table.in_module(found[0], found[1][:-1], found[1][-1])
    # 2. A glob import that brings the name in, then the parent module.
    for glob_crate, module in scope.globs:
        found = table.in_module(glob_crate, module, name)
        if found:
            return found
    if len(own_module) > 1:
        found = table.in_module(crate, own_module[:-1], name)
        if found:
            return found
    # 3. A name defined exactly once in the crate.
    same_crate = table.named(crate, name)
    same_crate = _one(same_crate)
    return same_crate if len(same_crate) == 1 else []


_TYPE_KINDS = frozenset({"struct", "enum", "union", "trait", "type"})


def _one(found: list[Definition]) -> list[Definition]:
    """`found`, as one definition where it is one: a name one file defines more than
    once (under different `#[cfg]`s, or a type and a constructor fn of its name) is
    its first type there, else its first definition."""
    first = found[0] if found else None
    if first is None or any(d.path != first.path for d in found):
        return found
    return [next((d for d in found if d.kind in _TYPE_KINDS), first)]
