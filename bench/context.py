"""How much of the cross-file context a change needs is in its exported example.

For a seeded sample of exported records, the names its target uses (CamelCase types,
traits and variants' enums, and macros) that are defined in another file the changed
file can see at the parent commit (its crate, and the crates Cargo lets it name; for a
tree without manifests, the files under the same folder above `src/`) are the
expected context, but for a name the file's own `use` lines import from a crate
that is not ours (`use proc_macro2::TokenStream`, where the crate also defines a
`TokenStream`): those are counted apart. Recall is the share of them whose
definition (`struct Name`, `trait Name`, `macro_rules! name`, ...) is in the record's
context segments, after the budget. Names the same commit defines in another file
the changed file can see (new at the commit) are counted apart: their definitions
are the commit's own edits.
The same is measured for a "related files" baseline given the same number of
characters: the changed file's crate's other files, those in its own folder first,
then by how much of their path they share with it, whole, in that order.

    python bench/context.py REPO [--sample 300] [--seed 1] [--db URL] [--max-tokens 2048]

Without --db it backfills REPO into a temporary store. It exports (jsonl) into a
temporary folder, prints recall, baseline recall, and the most frequent reasons names
were missed (from the example's own `unresolved` list, or "resolved, cut by the
budget", or "not looked for": the name was not referenced as the resolver saw it).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from functools import lru_cache
from pathlib import Path

import pygit2
from sqlalchemy import Connection

from indexer import git
from indexer.rust import SUFFIX
from indexer.rust.cargo import MANIFEST, Cargo
from indexer.rust.resolve import crate_root
from indexer.shapes import DEFINITION_PREFIXES
from indexer.store import open_target
from indexer.store.commits import blob_symbols
from indexer.store.examples import StoredExample, commit_examples

KINDS = ("struct", "enum", "union", "trait", "type", "macro")
# A name not after `.` (a method or field) or `::` (a segment of a path, which its
# head decides: `sval::Value` is sval's); a macro is a name before `!` (`Token![fn]`
# is syn's macro `Token`, not a type).
_NAME = re.compile(r"(?<![\w.:])([A-Za-z_][A-Za-z0-9_]*)!|(?<![\w.:])([A-Z][A-Za-z0-9_]*)\b")
_BLANK = re.compile(r"//[^\n]*|/\*.*?\*/|\"(?:\\.|[^\"\\])*\"", re.S)


def _used(target: str) -> set[str]:
    names = set()
    for macro, camel in _NAME.findall(_BLANK.sub(" ", target)):
        names.add(camel or macro + "!")
    return names - {"Self", "Some", "None", "Ok", "Err", "String", "Vec", "Option", "Result"}


def _defines(text: str, name: str) -> bool:
    if name.endswith("!"):
        return re.search(rf"macro_rules!\s*{re.escape(name[:-1])}\b", text) is not None
    pattern = rf"\b(?:struct|enum|union|trait|type)\s+{re.escape(name)}\b"
    return re.search(pattern, text) is not None


class _Tree:
    """What the changed file can see at one commit: its visible files and their names."""

    def __init__(self, repo: pygit2.Repository, conn: Connection, commit: str) -> None:
        self.repo, self.conn = repo, conn
        files = git.source_files_at(repo, repo[commit], (SUFFIX, MANIFEST))
        self.rust = {p: b for p, b in files.items() if p.endswith(SUFFIX)}
        manifests = {p: repo[b].data for p, b in files.items() if p.rsplit("/", 1)[-1] == MANIFEST}
        self.cargo = Cargo(manifests, self.rust)

    def visible(self, path: str, own_crate_only: bool = False) -> list[str]:
        """The other files the file at `path` can name things in: its crate's, and
        (unless `own_crate_only`) those of the crates it can name."""
        places = self.cargo.crates_of(path) if self.cargo else ()
        if not places:
            root = crate_root(path)
            return [p for p in self.rust if p != path and crate_root(p) == root]
        crate = self.cargo.crates[places[0][0]]
        keys = {crate.key} if own_crate_only else {crate.key, *crate.externs.values()}
        return [
            p
            for p in self.rust
            if p != path and any(c in keys for c, _m in self.cargo.crates_of(p))
        ]

    def names(self, path: str) -> set[str]:
        return _names(self.conn, self.rust[path])

    def imported_from_elsewhere(self, path: str) -> set[str]:
        """The names the file's `use` lines bring from a crate that is not ours (its
        head no `crate`/`self`/`super`, no crate Cargo lets it name, no module file of
        its crate's root): `use proc_macro2::TokenStream` in a crate that defines a
        `TokenStream` of its own elsewhere means proc_macro2's."""
        places = self.cargo.crates_of(path) if self.cargo else ()
        crate = self.cargo.crates[places[0][0]] if places else None
        ours = {"crate", "self", "super", ""} | set(crate.externs if crate else ())
        folder = crate.folder if crate else path.rsplit("/src/", 1)[0] + "/src"
        prefix = folder + "/" if folder else ""
        for other in self.rust:
            if other.startswith(prefix):
                ours.add(other[len(prefix) :].split("/")[0].removesuffix(".rs"))
        _items, uses, *_mods = blob_symbols(self.conn, self.rust[path], ("struct",))
        return {
            (alias or use_path.split("::")[-1])
            for use_path, alias, is_glob, *_rest in uses
            if not is_glob and use_path.split("::")[0] not in ours
        }


@lru_cache(maxsize=20_000)
def _names_cached(conn: Connection, blob: str) -> frozenset[str]:
    items, _uses, _mods = blob_symbols(conn, blob, KINDS)
    return frozenset(
        (n + "!") if k == "macro" else n
        for k, n, qualname, *_rest in items or []
        # an impl's items, and an associated type (`type Item` in a trait), are
        # nothing a file imports
        if not qualname.startswith("impl") and not (k == "type" and "::" in qualname)
    )


def _tree(trees: dict[str, _Tree], repo: pygit2.Repository, conn: Connection, commit: str) -> _Tree:
    """The tree at `commit`, from the last 64 made."""
    if commit not in trees:
        trees[commit] = _Tree(repo, conn, commit)
        if len(trees) > 64:
            trees.pop(next(iter(trees)))
    return trees[commit]


def _visible_names(tree: _Tree, path: str) -> set[str]:
    visible: set[str] = set()
    for other in tree.visible(path):
        visible |= tree.names(other)
    return visible


def _names(conn: Connection, blob: str) -> set[str]:
    return set(_names_cached(conn, blob))


def _baseline(tree: _Tree, path: str, chars: int) -> str:
    folder = path.rsplit("/", 1)[0] if "/" in path else ""

    def order(other: str) -> tuple[bool, int, str]:
        same_folder = (other.rsplit("/", 1)[0] if "/" in other else "") == folder
        shared = 0
        for a, b in zip(other.split("/"), path.split("/"), strict=False):
            if a != b:
                break
            shared += 1
        return (not same_folder, -shared, other)

    text, left = [], chars
    for other in sorted(tree.visible(path, own_crate_only=True), key=order):
        if left <= 0:
            break
        code = tree.repo[tree.rust[other]].data.decode("utf-8", "replace")
        text.append(code[:left])
        left -= len(code)
    return "".join(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("repo", type=Path)
    ap.add_argument("--sample", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--db")
    ap.add_argument("--max-tokens", type=int, default=2048)
    ap.add_argument("--show", type=int, default=0, help="list this many misses of each reason")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="commit-indexer-context-"))
    db = args.db or f"sqlite:///{work}/index.db"
    command = [str(Path(sys.executable).parent / "commit-indexer")]
    if not args.db:
        subprocess.run([*command, "backfill", "--repo", args.repo, "--db", db], check=True)
    out = work / "export"
    subprocess.run(
        [
            *command,
            "export",
            out,
            "--repo",
            args.repo,
            "--db",
            db,
            "--max-tokens",
            str(args.max_tokens),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    records = []
    for split in ("train", "validation", "test"):
        with open(out / f"{split}.jsonl", encoding="utf-8") as lines:
            records += [json.loads(line) for line in lines]
    records = [r for r in records if r["parent"]]
    random.Random(args.seed).shuffle(records)
    target = open_target(str(args.repo), db, create=False)
    expected = found = base_found = new_expected = new_found = external_imports = 0
    missed: Counter[str] = Counter()
    shown: dict[str, list[str]] = defaultdict(list)
    trees: dict[str, _Tree] = {}
    sampled = 0
    with target.store.connect() as conn:
        for record in records:
            if sampled >= args.sample:
                break
            sampled += 1
            tree = _tree(trees, target.repo, conn, record["parent"])
            if record["path"] not in tree.rust:
                continue  # a file the commit added: nothing of its own to see yet
            own = tree.names(record["path"])
            visible = _visible_names(tree, record["path"])
            used = _used(record["target"])
            shadowed = (used & visible) - own
            wanted = shadowed - tree.imported_from_elsewhere(record["path"])
            external_imports += len(shadowed) - len(wanted)
            after = _tree(trees, target.repo, conn, record["commit"])
            added = used - visible - own - after.names(record["path"])
            added &= _visible_names(after, record["path"])
            context = "\n".join(
                s["text"] for s in record["segments"] if s["kind"].startswith(DEFINITION_PREFIXES)
            )
            new_expected += len(added)
            new_found += sum(1 for name in added if _defines(context, name))
            if not wanted:
                continue
            baseline = _baseline(tree, record["path"], len(context))
            stored = {
                (e.path, e.kind, e.qualname): e
                for e in commit_examples(conn, target.repo_id, record["commit"])
            }
            example = stored.get((record["path"], record["kind"], record["qualname"]))
            for name in sorted(wanted):
                expected += 1
                if _defines(context, name):
                    found += 1
                else:
                    reason = _why(name, example)
                    missed[reason] += 1
                    if len(shown[reason]) < args.show:
                        shown[reason].append(
                            f"{name} in {record['path']} ({record['commit'][:10]})"
                        )
                if _defines(baseline, name):
                    base_found += 1
    target.close()
    print(f"repo: {args.repo}  records: {len(records)}  sampled: {sampled}  seed: {args.seed}")
    print(
        f"expected cross-file names: {expected} (and {external_imports} that the file "
        "imports from another crate, left out)"
    )
    if expected:
        print(f"recall:          {found / expected:.2f}  ({found}/{expected})")
        print(f"baseline recall: {base_found / expected:.2f}  ({base_found}/{expected})")
    if new_expected:
        print(
            f"names the same commit defines in other files: {new_expected}, in the context "
            f"{new_found / new_expected:.2f} ({new_found}/{new_expected})"
        )
    print("missed, by reason:")
    for reason, count in missed.most_common(15):
        print(f"  {count:5d}  {reason}")
        for line in shown[reason]:
            print(f"           {line}")
    print(f"(temp dir {work}; delete it when done)")


def _why(name: str, example: StoredExample | None) -> str:
    if example is None:
        return "no stored example"
    plain = name.rstrip("!")
    for line in example.resolved:
        ref = line.split(" -> ")[0].rstrip("!")
        if ref.split("::")[-1] == plain or ref == plain:
            return "resolved, cut by the budget"
    for line in example.unresolved:
        ref, _, reason = line.partition(" (")
        if ref.rstrip("!").split("::")[-1] == plain:
            return "unresolved: " + re.sub(r"external: \S+", "external: NAME", reason.rstrip(")"))
    return "not looked for"


if __name__ == "__main__":
    main()
