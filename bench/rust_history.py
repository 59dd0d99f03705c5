"""A synthetic Rust history as a `git fast-import` stream, for bench/scale.py.

`write_history(out, commits, seed, probe_at, probes)` writes the stream of a workspace
of six crates (`crates/NAME/src/lib.rs` and its modules) developed over `commits`
commits, and returns what was made. The same arguments give the same bytes, so the
same commit ids.

The history is meant to make the indexer do what real ones make it do:
- most commits change a few items (structs, enums, traits, impls, fns) in one or two
  modules; some add or remove an item, add or delete a module (and its `pub mod`
  line in lib.rs), or rename a module (the file moves with a small edit, and the files
  that import from it follow in the same commit);
- items refer to items of other modules through `use crate::module::{...}` (resolved
  as cross-file context) and to other crates (left unresolved, as external);
- now and then a topic branch edits one crate for a few commits while the main line
  works on the others, then merges (no conflicts, so no merge driver is needed).

Its size is the same from the first commit to the last (modules per crate and items
per module hover around a target), so the work per commit does not change along the
history: a slower commit late in a backfill is the indexer's doing, not the
repository's.

All commits are written to refs/bench/* (main line to refs/bench/main), which no sync
reads: the benchmark reveals the history by pointing refs/heads/main at its commits.
Marks are stream positions: commit N is mark :N.

Probes are commits to time one-commit syncs with, alike wherever they are: after each
main-line position in `probe_at`, `probes` commits that each change two items of one
module, on a ref of their own (refs/bench/probe-POSITION) chained from that commit.
The main line goes on from the commit they fork from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from random import Random
from typing import BinaryIO

CRATES = ("base", "model", "storage", "net", "service", "cli")
NOUNS = (
    "account batch cache channel config cursor digest event frame gate handle index journal"
    " ledger lease metric node offset packet policy queue record route schema session shard"
    " signal token vault window"
).split()
VERBS = "load store parse merge flush route check build apply split scan encode".split()
SUFFIXES = {
    "enum": ("State", "Kind", "Mode", "Status"),
    "trait": ("Source", "Sink", "Handler", "Codec"),
}
AUTHORS = [(f"Dev {n}", f"dev{n}@example.com") for n in "ABCDE"]
MODULES_PER_CRATE = 7  # the target the module count hovers around
RENAME_RATE = 0.005  # of main-line commits
START_TIME = 1_600_000_000


@dataclass(eq=False)
class Item:
    kind: str  # struct, enum, trait, fn, impl
    name: str
    module: Module
    refs: list[Item]
    salt: int
    version: int = 0
    alive: bool = True
    target: Item | None = None  # impl: the struct (same module); name is the trait's or its


@dataclass(eq=False)
class Module:
    crate: str
    name: str
    items: list[Item] = field(default_factory=list)
    alive: bool = True

    @property
    def path(self) -> str:
        return f"crates/{self.crate}/src/{self.name}.rs"


@dataclass
class Made:
    """What the stream holds: main-line commit marks in order, and counts."""

    main: list[int] = field(default_factory=list)
    probes: dict[int, list[int]] = field(default_factory=dict)  # position -> marks
    commits: int = 0
    merges: int = 0
    renames: int = 0
    modules_added: int = 0
    modules_deleted: int = 0


def _camel(word: str) -> str:
    return word[0].upper() + word[1:]


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


class _Workspace:
    def __init__(self, seed: int) -> None:
        self.rng = Random(seed)
        self.modules: dict[str, list[Module]] = {c: [] for c in CRATES}
        self.taken: dict[str, set[str]] = {c: set() for c in CRATES}  # names per crate
        self.lib_revision = dict.fromkeys(CRATES, 0)

    # -- naming ----------------------------------------------------------------

    def _unique(self, crate: str, make: Callable[[], str]) -> str:
        for _ in range(20):
            name = make()
            if name not in self.taken[crate]:
                break
        else:
            name = f"{make()}{len(self.taken[crate])}"
        self.taken[crate].add(name)
        return name

    def _name(self, crate: str, kind: str) -> str:
        rng = self.rng
        if kind == "fn":
            return self._unique(crate, lambda: f"{rng.choice(VERBS)}_{rng.choice(NOUNS)}")
        if kind in SUFFIXES:
            return self._unique(
                crate, lambda: _camel(rng.choice(NOUNS)) + rng.choice(SUFFIXES[kind])
            )
        return self._unique(crate, lambda: _camel(rng.choice(NOUNS)) + _camel(rng.choice(NOUNS)))

    # -- items and modules -------------------------------------------------------

    def _pick_refs(self, module: Module, kinds: tuple[str, ...], most: int) -> list[Item]:
        """Up to `most` items of other modules: of the same crate mostly, else another."""
        crate = module.crate
        if self.rng.random() < 0.15:
            crate = self.rng.choice(CRATES)
        pool = [
            it for m in self.modules[crate] if m is not module for it in m.items if it.kind in kinds
        ]
        if not pool:
            return []
        return self.rng.sample(pool, min(len(pool), self.rng.randint(1, most)))

    def _refs_for(self, item: Item) -> list[Item]:
        if item.kind == "struct":
            return self._pick_refs(item.module, ("struct", "enum"), 2)
        if item.kind == "enum":
            return self._pick_refs(item.module, ("struct",), 2)
        if item.kind == "trait":
            return self._pick_refs(item.module, ("struct", "enum"), 1)
        if item.kind == "impl":  # the functions its methods call
            return self._pick_refs(item.module, ("fn",), 2)
        return self._pick_refs(item.module, ("struct", "enum"), 1) + self._pick_refs(
            item.module, ("fn",), 2
        )

    def add_item(self, module: Module, kind: str | None = None) -> Item:
        rng = self.rng
        kind = (
            kind
            or rng.choices(("struct", "enum", "trait", "fn", "impl"), weights=(25, 10, 10, 35, 20))[
                0
            ]
        )
        structs = [it for it in module.items if it.kind == "struct"]
        if kind == "impl" and not structs:
            kind = "fn"
        if kind == "impl":
            target = rng.choice(structs)
            traits = self._pick_refs(module, ("trait",), 1) if rng.random() < 0.5 else []
            name = traits[0].name if traits else target.name
            item = Item("impl", name, module, traits, rng.randrange(1000), target=target)
            item.refs += self._refs_for(item)
        else:
            item = Item(kind, self._name(module.crate, kind), module, [], rng.randrange(1000))
            item.refs = self._refs_for(item)
        module.items.append(item)
        return item

    def remove_item(self, item: Item) -> None:
        doomed = [item] + [it for it in item.module.items if it.target is item]
        for it in doomed:
            it.alive = False
            item.module.items.remove(it)
            if it.kind != "impl":
                self.taken[it.module.crate].discard(it.name)

    def modify(self, item: Item) -> None:
        item.version += 1
        if self.rng.random() < 0.25:
            keep = [r for r in item.refs if r.kind == "trait"] if item.kind == "impl" else []
            item.refs = keep + self._refs_for(item)

    def add_module(self, crate: str) -> Module:
        module = Module(crate, self._unique(crate, lambda: self.rng.choice(NOUNS)))
        self.modules[crate].append(module)
        for kind in ("struct", "struct", "trait", "fn"):
            self.add_item(module, kind)
        for _ in range(self.rng.randint(1, 3)):
            self.add_item(module)
        self.lib_revision[crate] += 1
        return module

    def remove_module(self, module: Module) -> None:
        for item in list(module.items):
            if item.alive:
                self.remove_item(item)
        module.alive = False
        self.modules[module.crate].remove(module)
        self.taken[module.crate].discard(module.name)
        self.lib_revision[module.crate] += 1

    def rename_module(self, module: Module) -> list[Module]:
        """Rename `module`; return the modules of its crate that import from it."""
        importers = [
            m
            for m in self.modules[module.crate]
            if m is not module and any(r.module is module for it in m.items for r in it.refs)
        ]
        self.taken[module.crate].discard(module.name)
        module.name = self._unique(
            module.crate, lambda: f"{self.rng.choice(NOUNS)}_{self.rng.choice(NOUNS)}"
        )
        self.lib_revision[module.crate] += 1
        return importers

    # -- rendering ---------------------------------------------------------------

    def lib_rs(self, crate: str) -> bytes:
        mods = "".join(f"pub mod {m.name};\n" for m in sorted(self.modules[crate], key=_by_name))
        return (
            f"//! The {crate} crate.\n\n{mods}\n"
            f"pub const REVISION: u32 = {self.lib_revision[crate]};\n"
        ).encode()

    def render(self, module: Module) -> bytes:
        imports: dict[str, list[str]] = {}
        for item in module.items:
            for ref in item.refs:
                if ref.alive and ref.module is not module:
                    root = "crate" if ref.module.crate == module.crate else ref.module.crate
                    names = imports.setdefault(f"{root}::{ref.module.name}", [])
                    if ref.name not in names:
                        names.append(ref.name)
        lines = [f"//! The {module.name} module of the {module.crate} crate.\n"]
        for path in sorted(imports):
            names = sorted(imports[path])
            joined = names[0] if len(names) == 1 else "{" + ", ".join(names) + "}"
            lines.append(f"use {path}::{joined};")
        body = "\n".join(_render_item(it) for it in module.items)
        return ("\n".join(lines) + "\n\n" + body).encode()


def _by_name(module: Module) -> str:
    return module.name


def _trait_methods(trait: Item) -> list[tuple[str, str]]:
    """(name, parameter type) of a trait's required methods, as of its version."""
    types = [r.name for r in trait.refs if r.alive] or ["u64"]
    count = 1 + trait.version % 2
    return [
        (VERBS[(trait.salt + i) % len(VERBS)], types[(trait.version + i) % len(types)])
        for i in range(count)
    ]


def _calls(item: Item, var: str) -> list[str]:
    return [
        f"        {var} = {var}.wrapping_add({r.name}({var} ^ {i + item.version}));"
        for i, r in enumerate(it for it in item.refs if it.alive and it.kind == "fn")
    ]


def _render_item(item: Item) -> str:
    v, salt, name = item.version, item.salt, item.name
    live = [r for r in item.refs if r.alive]
    types = [r.name for r in live if r.kind in ("struct", "enum")]
    if item.kind == "struct":
        fields = [f"    pub {_snake(t)}: {t}," for t in types]
        fields += [
            f"    pub {NOUNS[(salt + v + i) % len(NOUNS)]}_count: u{8 << ((v + i) % 4)},"
            for i in range(1 + v % 3)
        ]
        return (
            f"/// The {_snake(name).replace('_', ' ')} of a {item.module.name} (revision {v}).\n"
            "#[derive(Debug, Clone, Default)]\n"
            f"pub struct {name} {{\n" + "\n".join(fields) + "\n}\n"
        )
    if item.kind == "enum":
        variants = ["    #[default]\n    Idle,"] + [f"    With{t}({t})," for t in types]
        variants += [f"    Step{i}(u{8 << ((v + i) % 4)})," for i in range(1 + v % 3)]
        return (
            "#[derive(Debug, Clone, Default)]\n"
            f"pub enum {name} {{\n" + "\n".join(variants) + "\n}\n"
        )
    if item.kind == "trait":
        methods = [
            f"    fn {m}(&self, input: &{t}) -> Result<u64, String>;"
            for m, t in _trait_methods(item)
        ]
        return (
            f"pub trait {name} {{\n" + "\n".join(methods) + "\n\n"
            "    fn describe(&self) -> String {\n"
            f'        format!("{name} r{v}")\n'
            "    }\n}\n"
        )
    if item.kind == "fn":
        param = f", ctx: &{types[0]}" if types else ""
        checks = [
            f"    if total % {2 + (v + i) % 7} == 0 {{\n        total += {salt + i};\n    }}"
            for i in range(1 + v % 3)
        ]
        calls = [c[4:] for c in _calls(item, "total")]
        return (
            f"/// {_camel(name.replace('_', ' '))}, revision {v}.\n"
            f"pub fn {name}(seed: u64{param}) -> u64 {{\n"
            f"    let mut total = seed.wrapping_mul({salt + v});\n"
            + "".join(line + "\n" for line in calls + checks)
            + "    total\n}\n"
        )
    assert item.target is not None
    trait = next((r for r in item.refs if r.kind == "trait"), None)
    if trait is not None and trait.alive:
        methods = [
            f"    fn {m}(&self, input: &{t}) -> Result<u64, String> {{\n"
            f"        let _ = input;\n        Ok({salt + v + i})\n    }}"
            for i, (m, t) in enumerate(_trait_methods(trait))
        ]
        return f"impl {trait.name} for {item.target.name} {{\n" + "\n\n".join(methods) + "\n}\n"
    methods = ["    pub fn new() -> Self {\n        Self::default()\n    }"]
    for i in range(1 + v % 3):
        calls = _calls(item, "acc")
        methods.append(
            f"    pub fn {VERBS[(salt + i) % len(VERBS)]}_{i}(&self, seed: u64) -> u64 {{\n"
            f"        let mut acc = seed + {v + i};\n"
            + "".join(line + "\n" for line in calls)
            + "        acc\n    }"
        )
    return f"impl {item.target.name} {{\n" + "\n\n".join(methods) + "\n}\n"


@dataclass
class _Branch:
    crate: str
    fork: int  # the main-line mark it starts from
    left: int  # commits still to make on it
    tip: int | None = None
    changed: dict[str, bytes | None] = field(default_factory=dict)  # path -> its last text


class _Stream:
    def __init__(self, out: BinaryIO, made: Made) -> None:
        self.out, self.made = out, made

    def commit(
        self,
        ref: str,
        message: str,
        parents: list[int],
        files: list[tuple[str, bytes | None]],  # None deletes the path
        author: tuple[str, str],
    ) -> int:
        self.made.commits += 1
        mark = self.made.commits
        when = START_TIME + 3600 * mark
        msg = message.encode()
        head = [f"commit {ref}", f"mark :{mark}"]
        head += [
            f"{role} {author[0]} <{author[1]}> {when} +0000" for role in ("author", "committer")
        ]
        chunks = ["\n".join(head).encode(), f"\ndata {len(msg)}\n".encode(), msg, b"\n"]
        if parents:
            chunks.append(f"from :{parents[0]}\n".encode())
        chunks += [f"merge :{p}\n".encode() for p in parents[1:]]
        for path, data in files:
            if data is None:
                chunks.append(f"D {path}\n".encode())
            else:
                chunks += [f"M 100644 inline {path}\ndata {len(data)}\n".encode(), data, b"\n"]
        self.out.write(b"".join(chunks) + b"\n")
        return mark


def write_history(
    out: BinaryIO,
    commits: int,
    seed: int = 1,
    probe_at: Sequence[int] = (),
    probes: int = 0,
) -> Made:
    """Write a fast-import stream of `commits` commits (probes included)."""
    ws, made = _Workspace(seed), Made()
    rng, stream = ws.rng, _Stream(out, made)
    files: list[tuple[str, bytes | None]] = []
    for crate in CRATES:  # at full size from the start: early and late commits alike
        for _ in range(MODULES_PER_CRATE):
            ws.add_module(crate)
        files += [(f"crates/{crate}/src/lib.rs", ws.lib_rs(crate))]
        files += [(m.path, ws.render(m)) for m in ws.modules[crate]]
    made.main.append(stream.commit("refs/bench/main", "Initial workspace", [], files, AUTHORS[0]))

    branch: _Branch | None = None
    while made.commits < commits:
        position = made.commits + 1
        author = rng.choice(AUTHORS)
        if made.main[-1] in probe_at and made.main[-1] not in made.probes:
            _write_probes(ws, stream, made, probes)
            continue
        if (
            branch is not None
            and branch.left > 0
            and (rng.random() < 0.5 or position > commits - 20)
        ):
            message, touched = _edit_crate(ws, branch.crate)
            files = [(m.path, ws.render(m)) for m in touched]
            branch.changed.update(files)
            parent = branch.tip or branch.fork
            branch.tip = stream.commit("refs/bench/topic", message, [parent], files, author)
            branch.left -= 1
            continue
        if branch is not None and branch.left == 0:
            assert branch.tip is not None
            message = f"Merge branch 'topic/{branch.crate}-{branch.fork}'"
            parents = [made.main[-1], branch.tip]
            files = sorted(branch.changed.items())
            made.main.append(stream.commit("refs/bench/main", message, parents, files, author))
            made.merges += 1
            branch = None
            continue
        if branch is None and 50 < position < commits - 50 and rng.random() < 0.01:
            crate = rng.choice(CRATES)
            branch = _Branch(crate, made.main[-1], rng.randint(2, 5))
        blocked = branch.crate if branch else None
        message, files = _main_step(ws, made, blocked)
        made.main.append(stream.commit("refs/bench/main", message, [made.main[-1]], files, author))
    assert branch is None  # branches open early enough to be merged by now
    if commits in probe_at:  # from the last main-line commit, whatever its mark
        _write_probes(ws, stream, made, probes)
    out.write(b"done\n")
    return made


def _write_probes(ws: _Workspace, stream: _Stream, made: Made, count: int) -> None:
    fork = made.main[-1]
    marks = made.probes.setdefault(fork, [])
    for _ in range(count):
        crate = ws.rng.choice(CRATES)
        module = ws.rng.choice(ws.modules[crate])
        items = ws.rng.sample(module.items, 2)
        for item in items:
            ws.modify(item)
        message = f"{crate}: rework {items[0].name} and {items[1].name}"
        files = [(module.path, ws.render(module))]
        parent = marks[-1] if marks else fork
        marks.append(
            stream.commit(f"refs/bench/probe-{fork}", message, [parent], files, AUTHORS[0])
        )


def _edit_crate(ws: _Workspace, crate: str) -> tuple[str, list[Module]]:
    """Change one to three items in one or two modules of `crate`."""
    rng = ws.rng
    modules = rng.sample(ws.modules[crate], min(len(ws.modules[crate]), rng.choice((1, 1, 2))))
    names = []
    for module in modules:
        for item in rng.sample(module.items, min(len(module.items), rng.randint(1, 2))):
            ws.modify(item)
            names.append(item.name)
    return f"{crate}: rework {', '.join(names)}", modules


def _main_step(
    ws: _Workspace, made: Made, blocked: str | None
) -> tuple[str, list[tuple[str, bytes | None]]]:
    """One main-line commit in a crate other than `blocked` (a topic branch's)."""
    rng = ws.rng
    crate = rng.choice([c for c in CRATES if c != blocked])
    mods = ws.modules[crate]
    lib = f"crates/{crate}/src/lib.rs"
    add = 0.03 if len(mods) < MODULES_PER_CRATE else 0.004
    delete = (0.025 if len(mods) > MODULES_PER_CRATE else 0.004) if len(mods) > 2 else 0.0
    roll = rng.random()
    if roll < add:
        module = ws.add_module(crate)
        made.modules_added += 1
        files = [(lib, ws.lib_rs(crate)), (module.path, ws.render(module))]
        return f"{crate}: add module {module.name}", files
    if roll < add + delete:
        module = rng.choice(mods)
        ws.remove_module(module)
        made.modules_deleted += 1
        return f"{crate}: remove module {module.name}", [
            (lib, ws.lib_rs(crate)),
            (module.path, None),
        ]
    if roll < add + delete + RENAME_RATE:
        module = rng.choice(mods)
        old, old_name = module.path, module.name
        importers = ws.rename_module(module)
        ws.modify(rng.choice(module.items))
        made.renames += 1
        files = [(old, None), (module.path, ws.render(module)), (lib, ws.lib_rs(crate))]
        files += [(m.path, ws.render(m)) for m in importers]
        return f"{crate}: rename {old_name} to {module.name}", files
    message, touched = _edit_crate(ws, crate)
    module = touched[0]
    if rng.random() < (0.10 if len(module.items) < 7 else 0.03):
        item = ws.add_item(module)
        message += f"; add {item.name}"
    elif rng.random() < 0.06 and len(module.items) > 4:
        item = rng.choice(module.items)
        ws.remove_item(item)
        message += f"; remove {item.name}"
    return message, [(m.path, ws.render(m)) for m in touched]


def iter_marks(text: str) -> Iterator[tuple[int, str]]:
    """(mark, commit id) from a `--export-marks` file."""
    for line in text.splitlines():
        mark, oid = line.split()
        yield int(mark[1:]), oid
