"""Item targets against edit targets (issue 20) on a backfilled history: label tokens
per modified example, how much of them merely copies lines of the old code, and how
many commits would fit a budget as one commit unit.

Usage: python bench/edits.py REPO [--db URL]

For every stored example of a modified item (with its old code) reachable from HEAD:
- item: the target as exported today (the item's whole new code);
- edit: `dataset.edits.render_blocks` of the search/replace blocks from the old code to
  the new, checked to apply back (`edit_blocks` falls back to one whole block when not).
Tokens are the repo's tokenizer's (the native one unless `tokenizer use` set another).
A label token "copies" when its line (stripped) is a line of the old code; for an edit
the search lines count as copies (they are the anchors a tool needs).

A commit unit, as issue 20 describes it, reckoned from the stored examples of every
commit with examples (not curated): its message once, each distinct context segment
(imports, definitions, paths) once, and the edit blocks of all its items (added items
as one block, deleted items left aside); no template markers. The share of commits
whose unit fits 2,048 / 4,096 / 8,192 tokens.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from indexer import git
from indexer.dataset.edits import SEARCH, edit_blocks, render_blocks
from indexer.dataset.snapshot import ensure_tokenizer
from indexer.dataset.tokenizer import Tokenizer
from indexer.shapes import OLD
from indexer.store import open_target
from indexer.store.examples import examples_of, repo_tokenizer

MARKERS = {SEARCH.strip(), "=======", ">>>>>>> REPLACE"}


def _copied_tokens(tok: Tokenizer, text: str, old_lines: set[str]) -> tuple[int, int]:
    """(tokens, tokens of lines that are lines of the old code) of `text`."""
    total = copied = 0
    for line in text.splitlines(keepends=True):
        n = len(tok.encode(line))
        total += n
        if line.strip() in old_lines and line.strip() not in MARKERS:
            copied += n
    return total, copied


def _p95(values: list[int]) -> int:
    return sorted(values)[int(0.95 * (len(values) - 1))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("repo", type=Path)
    ap.add_argument("--db")
    args = ap.parse_args()
    target = open_target(str(args.repo), args.db, create=False)
    ensure_tokenizer(target)
    with target.store.connect() as conn:
        stored = repo_tokenizer(conn, target.repo_id)
        assert stored is not None
        tok = Tokenizer.from_bytes(stored.kind, stored.data, stored.name)
        commits, _ = git.walk(target.repo, [str(git.resolve_commit(target.repo, "HEAD").id)], ())
        item_tokens, edit_tokens = [], []
        item_copy = edit_copy = item_total = edit_total = 0
        wholes = blocks = examples = 0
        units: list[int] = []
        for start in range(0, len(commits), 256):
            by_commit: dict[str, list] = {}
            for row in examples_of(conn, target.repo_id, commits[start : start + 256]):
                by_commit.setdefault(row.commit, []).append(row)
            units += [_unit_tokens(tok, rows) for rows in by_commit.values()]
            for row in (r for rows in by_commit.values() for r in rows):
                old = next((t for k, t, _v in row.segments if k == OLD), "")
                if row.change != "modified" or not old or row.edit_type != "code":
                    continue
                examples += 1
                old_lines = {line.strip() for line in old.splitlines() if line.strip()}
                edits = edit_blocks(old, row.target)
                wholes += edits.whole
                blocks += len(edits.blocks)
                n, c = _copied_tokens(tok, row.target, old_lines)
                item_tokens.append(n)
                item_total, item_copy = item_total + n, item_copy + c
                n, c = _copied_tokens(tok, render_blocks(edits), old_lines)
                edit_tokens.append(n)
                edit_total, edit_copy = edit_total + n, edit_copy + c
    target.close()
    if not examples:
        print("no modified examples with old code", file=sys.stderr)
        return 1
    print(f"{args.repo}: {examples} modified examples (code edits), {blocks} blocks")
    print(f"  blocks that apply back as computed: {examples - wholes}/{examples}")
    for name, values, copy, total in (
        ("item", item_tokens, item_copy, item_total),
        ("edit", edit_tokens, edit_copy, edit_total),
    ):
        print(
            f"  {name}: label tokens median {statistics.median(values):.0f}, p95"
            f" {_p95(values)}, total {total}; copies of old lines {100 * copy / total:.1f}%"
        )
    fits = ", ".join(
        f"{budget}: {100 * sum(n <= budget for n in units) / len(units):.1f}%"
        for budget in (2048, 4096, 8192)
    )
    print(
        f"  commit units ({len(units)} commits with examples): fit {fits};"
        f" median {statistics.median(units):.0f} tokens, p95 {_p95(units)}"
    )
    return 0


def _unit_tokens(tok: Tokenizer, rows: list) -> int:
    """The tokens of a commit's unit: message, distinct context, every item's edits."""
    seen: set[str] = set()
    total = 0
    for row in rows:
        old = next((t for k, t, _v in row.segments if k == OLD), "")
        for kind, text, _variants in row.segments:
            if kind != OLD and text not in seen:
                seen.add(text)
                total += len(tok.encode(text))
        total += len(tok.encode(render_blocks(edit_blocks(old, row.target))))
    return total


if __name__ == "__main__":
    sys.exit(main())
