"""The modules `#[path]` attributes make of files: `#[path = "imp/unix.rs"] mod sys;`
in `src/lib.rs` makes `src/imp/unix.rs` the library's `crate::sys`, whatever its own
path says, and the files it declares in turn (`mod fs;` there: `src/imp/fs.rs`) are
`crate::sys::fs`.

Where the file is, as the Rust reference says: for a declaration at a file's top
level, relative to the declaring file's folder; inside inline modules, relative to
that folder with the inline modules as folders below it (an inline module's own
`#[path]` replaces its name), after the declaring file's name as a folder when it is
not a mod-rs file (a crate root or `mod.rs`). As rustc does, a file reached through
`#[path]` counts as a mod-rs file: its own `mod x;` is `x.rs` (or `x/mod.rs`) next to it.

Only the modules are found here; `resolve.py` decides what they replace. This sees
paths and declarations, never blobs, Cargo's manifests or the store.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from posixpath import basename, dirname, join, normpath

from indexer.rust.syntax import ModDecl

Place = tuple[str, tuple[str, ...]]  # (crate key, module)
Declared = Callable[[str], Sequence[ModDecl]]  # a file's `mod name;` declarations


def placed_by_path(
    seeds: Iterable[str],
    declared: Declared,
    places: Callable[[str], Iterable[Place]],
    files: Collection[str],
) -> dict[str, dict[str, tuple[str, ...]]]:
    """The files of `files` that `#[path]` attributes lead to, each with its module in
    each crate it is reached in: {path: {crate: module}}. `seeds` are the files
    declaring a module with the attribute, `places` where the files' own paths put
    them. A seed is a start only if no attribute leads to it: otherwise it is reached,
    at the module the attribute gives it."""
    seeds = sorted(seeds)
    reached = _walk(seeds, declared, places, files)
    return _walk([s for s in seeds if s not in reached], declared, places, files)


def _walk(
    starts: list[str],
    declared: Declared,
    places: Callable[[str], Iterable[Place]],
    files: Collection[str],
) -> dict[str, dict[str, tuple[str, ...]]]:
    """From `starts` at their own places, the files their attributes name, then every
    file those declare, attribute or not; a file is placed once in a crate."""
    found: dict[str, dict[str, tuple[str, ...]]] = {}
    # (file, crate, module, is it mod-rs, was it reached through an attribute)
    queue = deque(
        (path, crate, module, _mod_rs(path, module), False)
        for path in starts
        for crate, module in places(path)
    )
    while queue:
        path, crate, module, mod_rs, reached = queue.popleft()
        for candidates, inner, by_attribute in _declared_files(path, declared(path), mod_rs):
            if not (by_attribute or reached):
                continue  # a plain `mod x;` of a start: its file's own path places it
            target = next((c for c in candidates if c in files), None)
            if target is None or crate in found.get(target, {}):
                continue
            placed = (*module, *inner)
            found.setdefault(target, {})[crate] = placed
            target_mod_rs = by_attribute or basename(target) == "mod.rs"
            queue.append((target, crate, placed, target_mod_rs, True))
    return found


def _mod_rs(path: str, module: tuple[str, ...]) -> bool:
    """Is the file at `path`, where its own path puts it, a mod-rs file?"""
    return module == ("crate",) or basename(path) == "mod.rs"


def _declared_files(
    path: str, decls: Sequence[ModDecl], mod_rs: bool
) -> Iterator[tuple[list[str], tuple[str, ...], bool]]:
    """For each `mod name;` of the file at `path`: the paths its file may have (the
    first that exists is it), its module below the file's, and whether an attribute
    names the file."""
    folder, own = dirname(path), None if mod_rs else basename(path).removesuffix(".rs")
    inline_paths = {(d.scope, d.name): d.path for d in decls if d.inline and d.path is not None}
    for decl in decls:
        if decl.inline or decl.crate is not None:
            continue
        scope = decl.scope.split("::") if decl.scope else []
        base, pending = _folder_of(folder, own, scope, inline_paths)
        if decl.path is not None:
            candidates = [normpath(join(base, decl.path))]
        else:
            under = join(base, pending) if pending else base
            candidates = [join(under, f"{decl.name}.rs"), join(under, decl.name, "mod.rs")]
        yield candidates, (*scope, decl.name), decl.path is not None


def _folder_of(
    folder: str, own: str | None, scope: list[str], inline_paths: dict[tuple[str, str], str]
) -> tuple[str, str | None]:
    """The folder the declarations inside the inline modules `scope` of a file in
    `folder` are relative to, and the folder still to enter for one without an
    attribute: the non-mod-rs file's name (`own`), while no inline module entered it."""
    pending = own
    for depth, name in enumerate(scope):
        attribute = inline_paths.get(("::".join(scope[:depth]), name))
        if attribute is not None:
            folder, pending = join(folder, attribute), None
            continue
        if pending is not None:
            folder, pending = join(folder, pending), None
        folder = join(folder, name)
    return folder, pending
