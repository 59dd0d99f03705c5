"""Cargo's view of a tree: its packages, their targets (each one crate), editions, and
the crates each crate can name. Read from the manifests and file paths at a commit
(never the work tree); `crates_of` says which crates, at which module, a `.rs` file
is part of.

What Cargo discovers is followed: `[lib]`, `[[bin]]`, `[[test]]`, `[[bench]]`,
`[[example]]` with their `path` and `name`, and the automatic targets (`src/lib.rs`,
`src/main.rs`, `src/bin/*.rs`, `src/bin/*/main.rs`, `tests/*.rs`, `benches/*.rs`,
`examples/*.rs`, `build.rs`). A crate names its package's own library by the
package's name, and its path dependencies (`path = "..."`, or `workspace = true` for
one the workspace lists with a path), under their key or rename; hyphens become
underscores. Every manifest with a `[package]` is a package, a workspace member or
not (a fixture crate under `tests/` is its own). Modules follow the file layout:
`a.rs` or `a/mod.rs` below the crate root's folder is `crate::a`. What the code says
is not read here: the symbol table (`resolve.py`) moves the files `#[path]`
attributes name (`path_mods.py`) and adds the names a crate root's `extern crate x
as y;` binds.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from posixpath import dirname, join, normpath

MANIFEST = "Cargo.toml"
DEFAULT_EDITION = "2015"  # what Cargo assumes for a package that names none


@dataclass(frozen=True)
class Crate:
    """One target of a package: the crate its root file starts."""

    key: str  # unique in the tree: "<package dir>:<kind>:<name>"
    kind: str  # lib, bin, test, bench, example, build
    name: str  # as code names it (hyphens as underscores)
    root: str  # the path of its root file
    edition: str
    externs: Mapping[str, str] = field(default_factory=dict)  # name in code -> crate key
    folder: str = field(init=False)  # where its modules' files are: the root file's folder

    def __post_init__(self) -> None:
        object.__setattr__(self, "folder", dirname(self.root))


@dataclass(frozen=True)
class _Package:
    folder: str  # "" for the tree's root
    name: str
    edition: str
    lib: tuple[str, str] | None  # (name, root path)
    targets: tuple[tuple[str, str, str], ...]  # (kind, name, root path), the library's too
    dependencies: Mapping[str, tuple[str, str]]  # name in code -> (folder, section)


class Cargo:
    """The crates of one tree. Built from its manifests (path -> text) and its `.rs`
    paths; `crates_of(path)` is memoized."""

    def __init__(self, manifests: Mapping[str, bytes], rust_paths: Iterable[str]) -> None:
        self.packages = _packages(manifests, set(rust_paths))
        self.crates: dict[str, Crate] = {}
        by_folder = {p.folder: p for p in self.packages}
        # Each package's crates by the folder that holds their modules (a build
        # script's holds none).
        held: dict[str, dict[str, list[Crate]]] = {}
        for package in self.packages:
            lib = package.lib
            lib_key = f"{package.folder}:lib:{lib[0]}" if lib is not None else None
            for kind, name, root in package.targets:
                externs = {}
                for dep, (folder, section) in package.dependencies.items():
                    if section == "dev" and kind in ("lib", "bin", "build"):
                        continue
                    if (section == "build") != (kind == "build"):
                        continue
                    target = by_folder.get(folder)
                    if target is not None and target.lib is not None:
                        externs[dep] = f"{target.folder}:lib:{target.lib[0]}"
                if lib is not None and lib_key is not None and kind not in ("lib", "build"):
                    externs.setdefault(lib[0], lib_key)
                key = f"{package.folder}:{kind}:{name}"
                crate = self.crates[key] = Crate(key, kind, name, root, package.edition, externs)
                if kind != "build":
                    held.setdefault(package.folder, {}).setdefault(crate.folder, []).append(crate)
        self._package_folders = set(by_folder)
        # Deepest folder first; a library alone where it shares its folder.
        self._folders = {
            package: sorted(
                (
                    (f, [c for c in crates if c.kind == "lib"] or sorted(crates, key=_key))
                    for f, crates in folders.items()
                ),
                key=lambda found: -len(found[0]),
            )
            for package, folders in held.items()
        }
        self._roots = {c.root: c for c in self.crates.values()}
        self._memo: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {}

    def __bool__(self) -> bool:
        return bool(self.crates)

    def crates_of(self, path: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The crates (by key) the file at `path` is part of, each with the module it
        is there; () for a file of no package (or of none of its targets' folders)."""
        found = self._memo.get(path)
        if found is None:
            found = self._memo[path] = self._crates_of(path)
        return found

    def _crates_of(self, path: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
        root = self._roots.get(path)
        if root is not None:
            return ((root.key, ("crate",)),)
        package = self._package_of(path)
        if package is None:
            return ()
        # The crates whose root folder holds the file, the innermost folder first: a
        # file under src/bin/x/ is bin x's, one elsewhere under src/ the library's
        # (or the main binary's, without a library); one under tests/ is a module of
        # each test crate.
        for folder, crates in self._folders.get(package, ()):
            if _under(path, folder):
                module = _module(path, folder)
                return tuple((c.key, module) for c in crates)
        return ()

    def _package_of(self, path: str) -> str | None:
        """The folder of the innermost package holding `path`, walking up its folders."""
        folder = dirname(path)
        while True:
            if folder in self._package_folders:
                return folder
            if not folder:
                return None
            folder = dirname(folder)


def _key(crate: Crate) -> str:
    return crate.key


def _under(path: str, folder: str) -> bool:
    return not folder or path.startswith(folder + "/")


def _module(path: str, folder: str) -> tuple[str, ...]:
    """The module of the file at `path` (not a crate root) in a crate whose root is in
    `folder`: `a.rs` and `a/mod.rs` are `crate::a`, `a/b.rs` is `crate::a::b`."""
    rel = path[len(folder) + 1 :] if folder else path
    parts = rel.removesuffix(".rs").split("/")
    if parts[-1] == "mod":
        parts = parts[:-1]
    return ("crate", *parts)


_AUTO_FOLDERS = frozenset({"bin", "tests", "benches", "examples"})
_ROOT_NAMES = frozenset({"lib.rs", "main.rs", "build.rs"})


def candidate_roots(manifests: Mapping[str, bytes], paths: Iterable[str]) -> frozenset[str]:
    """The `.rs` paths that could be a target's root: in a folder or under a name Cargo
    discovers targets by, or named by a manifest. A tree's crates depend on these
    alone (every other file is a module of the crate whose folder holds it), so a
    history's trees share one model while only other files come and go."""
    named: set[str] = set()
    for path, text in manifests.items():
        named |= _named_paths(dirname(path), text)
    return frozenset(path for path in paths if _discovered(path) or path in named)


@lru_cache(maxsize=65_536)
def _discovered(path: str) -> bool:
    """Whether Cargo could discover a target at `path` by its name or folder (asked
    again for every tree of a history, of the same few thousand paths)."""
    head, _, name = path.rpartition("/")
    return name in _ROOT_NAMES or head.rpartition("/")[2] in _AUTO_FOLDERS


@lru_cache(maxsize=4096)
def manifest_key(text: bytes) -> str:
    """What of a manifest the crates depend on, as one canonical string: its package's
    name, edition and build script, its targets, its path dependencies, and its
    workspace's edition and path dependencies. Manifests with one key (a version
    bump or a new registry dependency apart) make the same crates."""
    data = _parsed(text)
    if data is None:
        return "broken"

    def paths_only(deps: object) -> dict:
        if not isinstance(deps, dict):
            return {}
        return {k: v for k, v in deps.items() if isinstance(v, dict) and v.keys() & _BY_PATH}

    package = data.get("package")
    workspace = data.get("workspace")
    kept = {
        "package": {k: package.get(k) for k in ("name", "edition", "build")}
        if isinstance(package, dict)
        else package,
        **{k: data.get(k) for k in ("lib", "bin", "test", "bench", "example")},
        **{k: paths_only(data.get(k)) for k in _DEPENDENCY_KEYS},
        "workspace": {
            "edition": _get(workspace.get("package"), "edition"),
            "dependencies": paths_only(workspace.get("dependencies")),
        }
        if isinstance(workspace, dict)
        else workspace,
    }
    return json.dumps(kept, sort_keys=True, default=str)


_DEPENDENCY_KEYS = ("dependencies", "dev-dependencies", "build-dependencies")
_BY_PATH = frozenset({"path", "workspace"})  # what makes a dependency possibly ours


@lru_cache(maxsize=4096)
def _named_paths(folder: str, text: bytes) -> frozenset[str]:
    """The paths the manifest in `folder` names for its targets and build script."""
    data = _parsed(text)
    if data is None:
        return frozenset()
    entries = [
        data.get("lib") or {},
        *(e for k in ("bin", "test", "bench", "example") for e in _list(data.get(k))),
    ]
    found = {e["path"] for e in entries if isinstance(e, dict) and isinstance(e.get("path"), str)}
    build = _get(data.get("package"), "build")
    if isinstance(build, str):
        found.add(build)
    return frozenset(normpath(join(folder, p)) for p in found)


def _get(table: object, key: str) -> object:
    return table.get(key) if isinstance(table, dict) else None


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


class _Paths:
    """A tree's `.rs` paths, and the ones in each folder (a `main.rs` one folder down
    counts in its folder's parent too): where Cargo discovers targets."""

    def __init__(self, paths: set[str]) -> None:
        self.all = paths
        self.in_folder: dict[str, list[str]] = {}
        for path in sorted(paths):
            folder = dirname(path)
            self.in_folder.setdefault(folder, []).append(path)
            if path.endswith("/main.rs"):
                self.in_folder.setdefault(dirname(folder), []).append(path)

    def __contains__(self, path: object) -> bool:
        return path in self.all


def _packages(manifests: Mapping[str, bytes], rust_paths: set[str]) -> list[_Package]:
    paths = _Paths(rust_paths)
    workspace: dict = {}
    parsed: dict[str, dict] = {}
    for path, text in sorted(manifests.items()):
        data = _parsed(text)
        if data is None:
            continue  # a broken manifest: its files keep the layout-only behaviour
        folder = dirname(path)
        parsed[folder] = data
        if "workspace" in data and (not workspace or len(folder) < len(workspace["folder"])):
            workspace = {"folder": folder, **data["workspace"]}
    packages = []
    for folder, data in parsed.items():
        package = data.get("package")
        if not isinstance(package, dict) or not isinstance(package.get("name"), str):
            continue
        packages.append(_package(folder, data, package, workspace, paths))
    return packages


@lru_cache(maxsize=4096)
def _parsed(text: bytes) -> dict | None:
    """A manifest's TOML (shared: do not change it), None if it is not TOML. Most
    commits change no manifest, and a tree's crates are read again whenever its
    `.rs` paths change."""
    try:
        return tomllib.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None


def _package(folder: str, data: dict, package: dict, workspace: dict, rust: _Paths) -> _Package:
    name = _crate_name(package["name"])
    edition = package.get("edition", DEFAULT_EDITION)
    if isinstance(edition, dict):  # edition.workspace = true
        edition = workspace.get("package", {}).get("edition", DEFAULT_EDITION)
    targets: list[tuple[str, str, str]] = []
    lib = data.get("lib") if isinstance(data.get("lib"), dict) else {}
    lib_root = join(folder, lib["path"]) if isinstance(lib.get("path"), str) else None
    lib_root = normpath(lib_root) if lib_root else join(folder, "src/lib.rs").lstrip("/")
    lib_entry = None
    if lib_root in rust:
        lib_entry = (_crate_name(str(lib.get("name", name))), lib_root)
        targets.append(("lib", *lib_entry))
    for kind, section, folders in (
        ("bin", "bin", ("src/bin",)),
        ("test", "test", ("tests",)),
        ("bench", "bench", ("benches",)),
        ("example", "example", ("examples",)),
    ):
        targets += _targets(folder, kind, data.get(section), folders, name, rust)
    build = package.get("build", "build.rs")
    if isinstance(build, str) and normpath(join(folder, build)) in rust:
        targets.append(("build", "build_script_build", normpath(join(folder, build))))
    dependencies: dict[str, tuple[str, str]] = {}
    for section, key in (
        ("normal", "dependencies"),
        ("dev", "dev-dependencies"),
        ("build", "build-dependencies"),
    ):
        for dep, spec in (data.get(key) or {}).items():
            found = _path_dependency(folder, dep, spec, workspace)
            if found is not None:
                dependencies.setdefault(_crate_name(dep), (found, section))
    return _Package(folder, name, str(edition), lib_entry, tuple(targets), dependencies)


def _targets(
    folder: str,
    kind: str,
    declared: object,
    auto_folders: tuple[str, ...],
    package: str,
    rust: _Paths,
) -> list[tuple[str, str, str]]:
    """A package's targets of one kind: those its manifest declares, then those Cargo
    discovers in their folder (and for binaries, `src/main.rs`)."""
    found: dict[str, tuple[str, str, str]] = {}  # by root path
    for entry in declared if isinstance(declared, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        root = entry.get("path")
        if not isinstance(root, str):
            auto = auto_folders[0]
            single = join(folder, auto, f"{entry['name']}.rs").lstrip("/")
            root = single if single in rust else join(folder, auto, entry["name"], "main.rs")
        root = normpath(join(folder, root)) if isinstance(entry.get("path"), str) else root
        found[root] = (kind, _crate_name(entry["name"]), root)
    auto = join(folder, auto_folders[0]).lstrip("/")
    prefix = auto + "/"
    if kind == "bin":
        main = join(folder, "src/main.rs").lstrip("/")
        if main in rust:
            found.setdefault(main, (kind, package, main))
    for path in rust.in_folder.get(auto, ()):
        rest = path[len(prefix) :].split("/")
        if len(rest) == 1:
            found.setdefault(path, (kind, _crate_name(rest[0].removesuffix(".rs")), path))
        elif len(rest) == 2 and rest[1] == "main.rs":
            found.setdefault(path, (kind, _crate_name(rest[0]), path))
    return sorted(found.values(), key=lambda t: t[2])


def _path_dependency(folder: str, dep: str, spec: object, workspace: dict) -> str | None:
    """The folder of a path dependency, from its spec (or the workspace's)."""
    if not isinstance(spec, dict):
        return None
    base = folder
    if spec.get("workspace") is True:
        spec = (workspace.get("dependencies") or {}).get(dep)
        base = workspace.get("folder", "")
        if not isinstance(spec, dict):
            return None
    path = spec.get("path")
    if not isinstance(path, str):
        return None
    found = normpath(join(base, path))
    return "" if found == "." else found


def _crate_name(name: str) -> str:
    return name.replace("-", "_")
