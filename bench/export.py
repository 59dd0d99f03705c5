"""Time building examples and exporting them, against the backfill itself.

Usage: python bench/export.py REPO [--max-tokens N] [--format jsonl|parquet|pt] [--repeat N]
                              [--keep]

In one run, into fresh stores in a temp dir:
  1. two backfills, in this process (with the parser pool, as the CLI runs it): one
     that builds no examples (B = parsing, diffing, writing the symbol table), then
     the real one (T); E = T - B is what building examples adds (chunking items,
     resolving context, scanning for secrets, writing them). Goal: E <= B. With
     --repeat N, B and T are alternated N times and the fastest of each counts.
  2. `commit-indexer export` (first run: trains the native tokenizer, tokenizes every
     example, caches the ids, fits the budget, writes the files): examples/s.
  3. the same export again (token ids from the store's cache).
Then the share of examples whose whole context fits the budget, from the manifest.
"""

import argparse
import gc
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import indexer.index.sync as sync_module
from indexer.cli import GC_THRESHOLDS
from indexer.index.sync import SyncResult, sync
from indexer.store import open_target

CLI = Path(sys.executable).parent / "commit-indexer"


def _timed_sync(repo: Path, db: Path, examples: bool = True) -> tuple[float, SyncResult]:
    """One sync into the store `db`, timed; with `examples` False no commit makes any
    (the workers are forked from this process, so they see the switch too)."""
    makes_examples = sync_module.makes_examples
    if not examples:
        sync_module.makes_examples = lambda info: False
    target = open_target(str(repo), f"sqlite:///{db}")
    try:
        start = time.perf_counter()
        result = sync(target)
        return time.perf_counter() - start, result
    finally:
        target.close()
        sync_module.makes_examples = makes_examples


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("repo", type=Path)
    ap.add_argument("--max-tokens", type=int, default=2048)
    ap.add_argument("--format", default="jsonl", choices=("jsonl", "parquet", "pt"))
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run B and T this many times each, alternated; the fastest of each counts",
    )
    args = ap.parse_args()
    gc.set_threshold(*GC_THRESHOLDS)  # as the CLI sets it (the workers inherit it)
    work = Path(tempfile.mkdtemp(prefix="commit-indexer-export-bench-"))
    url = f"sqlite:///{work / 'index.db'}"
    try:
        # B: the same backfill with no commit making examples; T: the real one.
        # Alternated --repeat times into fresh stores, the fastest of each counting.
        rests, totals = [], []
        for n in range(args.repeat):
            rests.append(_timed_sync(args.repo, work / f"symbols-only-{n}.db", examples=False)[0])
            if n:
                for old in work.glob("index.db*"):
                    old.unlink()
            seconds, result = _timed_sync(args.repo, work / "index.db")
            totals.append(seconds)
        rest, total = min(rests), min(totals)
        examples = total - rest
        if args.repeat > 1:
            print("B runs: " + " ".join(f"{t:.2f}" for t in rests) + " s")
            print("T runs: " + " ".join(f"{t:.2f}" for t in totals) + " s")

        timings = []
        for n in (1, 2):
            out = work / f"export-{n}"
            cmd = [
                str(CLI),
                "export",
                str(out),
                "--repo",
                str(args.repo),
                "--db",
                url,
                "--format",
                args.format,
                "--max-tokens",
                str(args.max_tokens),
            ]
            start = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            timings.append(time.perf_counter() - start)
            if proc.returncode != 0:
                print(proc.stderr)
                return 1
        manifest = json.loads((work / "export-1" / "manifest.json").read_text())
        records = sum(manifest["counts"].values())
        context = manifest.get("context", {})
        fits = context.get("whole", 0)

        print(f"repo: {args.repo}  ({result.commits} commits, {result.blobs} blobs)")
        print(f"backfill (T)                   {total:8.2f} s")
        print(f"  without examples (B)         {rest:8.2f} s")
        print(f"  added by examples (E = T-B)  {examples:8.2f} s")
        print(
            f"  E/B                          {examples / rest:8.2f}   goal <= 1.0 "
            f"{'PASS' if examples <= rest else 'FAIL'}"
        )
        print(
            f"export, first (tokenize+fit)   {timings[0]:8.2f} s  "
            f"{records / timings[0]:8.0f} examples/s"
        )
        print(
            f"export, again (cached ids)     {timings[1]:8.2f} s  "
            f"{records / timings[1]:8.0f} examples/s"
        )
        print(f"records {records} {manifest['counts']}, tokens {manifest['tokens']}")
        print(
            f"context fits the {args.max_tokens}-token budget whole: "
            f"{fits}/{records} = {fits / max(records, 1):.1%}"
        )
        print(f"not exported: {manifest.get('skips')}")
        return 0
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
