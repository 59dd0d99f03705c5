"""The package's plan holds: its wings import downwards only, no module imports
another that imports it back, and only `rust/` knows Rust's grammar."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import indexer

PACKAGE = Path(indexer.__file__).parent

# Each wing may import its own modules and the wings of lower ranks only.
RANK = {
    "errors": 0,
    "shapes": 0,
    "resources": 0,
    "git": 1,
    "messages": 1,
    "secrets": 2,
    "secret_plugins": 3,
    "rust": 2,
    "store": 3,
    "index": 4,
    "dataset": 4,
    "lookup": 5,
    "doctor": 5,
    "hooks": 5,
    "progress_bars": 5,
    "demo": 5,
    "report": 5,
    "watch": 6,
    "cli": 7,
    "__main__": 8,
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts).removesuffix(".__init__")] = path
    return found


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Which of the package's modules each module imports, at its top or in a function.
    `from indexer.store import models` imports the submodule, not the package's face."""
    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("indexer"):
                assert node.module is not None
                subs = [f"{node.module}.{a.name}" for a in node.names]
                subs = [s for s in subs if s in modules]
                targets += subs
                if len(subs) < len(node.names):
                    targets.append(node.module)
            elif isinstance(node, ast.Import):
                targets += [a.name for a in node.names if a.name.startswith("indexer")]
            edges[name].update(t for t in targets if t in modules and t != name)
    return edges


def _wing(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "indexer"


def test_every_wing_has_a_rank() -> None:
    wings = {_wing(m) for m in _modules()} - {"indexer"}
    assert wings == set(RANK)


def test_wings_import_downwards_only() -> None:
    upward = [
        f"{module} imports {target}"
        for module, targets in _imports(_modules()).items()
        for target in targets
        if _wing(module) != "indexer"
        and _wing(target) != _wing(module)
        and RANK[_wing(target)] >= RANK[_wing(module)]
    ]
    assert upward == []


def test_no_import_circle() -> None:
    edges = _imports(_modules())
    circles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges[module]):
            if state.get(target) == 1:
                circles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert circles == []


def test_only_the_rust_package_knows_rusts_grammar() -> None:
    knowing = sorted(
        name
        for name, path in _modules().items()
        if "tree_sitter_rust" in path.read_text(encoding="utf-8")
    )
    assert knowing == ["indexer.rust.syntax"]
