"""Whether an export is data a careful ML engineer would train on: leaks between the
splits, how far each split is from its ratio, the funnel, and examples to read.

    python bench/quality.py REPO [--db URL] [--sample 40] [--seed 1] [--rules ...]

Without --db it backfills REPO into a temporary store. It exports (jsonl) under each
split rule into temporary folders, and for each prints, over the val and test
records against the train records:

- exact: targets equal to a train target (whitespace collapsed);
- near: targets whose 3-word shingles have a Jaccard similarity of 0.85 or more with
  a train target's (candidates from MinHashLSH at 0.6, each pair's Jaccard computed
  exactly from the shingle sets, so a pair is counted at its true similarity);
- old: targets that are, verbatim (whitespace collapsed), a train example's old code.

Rules: `commit` (a hash of the commit, before issue 18's default), `time`,
`lineage` with `--keep clones` (lineage alone) and `default` (lineage and the clone
cleaning, the default export). Then the default export's funnel, and `--sample`
records of it, seeded, printed as text for a reader to judge.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from datasketch import MinHash, MinHashLSH

from indexer.dataset.curate import FUNNEL_ORDER
from indexer.dataset.dedup import shingles
from indexer.dataset.export import split_files

RULES = {
    "commit": ("--split", "commit", "--keep", "clones"),
    "time": ("--split", "time", "--keep", "clones"),
    "lineage": ("--split", "lineage", "--keep", "clones"),
    "default": (),
}
NEAR = 0.85
CLI = Path(sys.executable).parent / "commit-indexer"


def _run(*args: str) -> str:
    done = subprocess.run([str(CLI), *args], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"commit-indexer {' '.join(args)} failed:\n{done.stderr}{done.stdout}")
    return done.stdout


def _records(folder: Path) -> dict[str, list[dict]]:
    """Each split's records, from its one file or its shards."""
    files = json.loads((folder / "manifest.json").read_text())["files"]
    out = {}
    for split in ("train", "validation", "test"):
        out[split] = [
            json.loads(line)
            for name in split_files(files, split, "jsonl")
            for line in (folder / name).read_text().splitlines()
        ]
    return out


def _normal(text: str) -> str:
    return " ".join(text.split())


def _old(record: dict) -> str:
    return next((s["text"] for s in record["segments"] if s["kind"] == "old"), "")


def _minhash(words: set[bytes]) -> MinHash:
    m = MinHash(num_perm=128, seed=7)
    m.update_batch(sorted(words))
    return m


def leaks(splits: dict[str, list[dict]]) -> dict[str, float | int]:
    train = splits["train"]
    held = splits["validation"] + splits["test"]
    train_targets = {_normal(r["target"]) for r in train}
    train_old = {_normal(_old(r)) for r in train if _old(r).strip()}
    sets = [shingles(r["target"]) for r in train]
    lsh = MinHashLSH(threshold=0.6, num_perm=128)
    for i, words in enumerate(sets):
        lsh.insert(i, _minhash(words), check_duplication=False)
    exact = near = old = 0
    for record in held:
        target = _normal(record["target"])
        exact += target in train_targets
        old += target in train_old
        words = shingles(record["target"])
        best = max(
            (len(words & sets[i]) / len(words | sets[i]) for i in lsh.query(_minhash(words))),
            default=0.0,
        )
        near += best >= NEAR
    n = len(held) or 1
    return {
        "held": len(held),
        "exact": exact / n,
        "near": near / n,
        "old": old / n,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("repo")
    ap.add_argument("--db")
    ap.add_argument("--sample", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rules", default=",".join(RULES))
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="commit-indexer-quality-"))
    db = args.db or f"sqlite:///{tmp}/index.db"
    if not args.db:
        _run("backfill", "--repo", args.repo, "--db", db)
    print(f"repo: {args.repo}\nstore: {db}\n")
    print(f"{'rule':<9} {'train':>6} {'valid':>6} {'test':>6}  {'exact':>6} {'near':>6} {'old':>6}")
    manifests = {}
    for rule in args.rules.split(","):
        out = tmp / rule
        _run("export", str(out), "--repo", args.repo, "--db", db, *RULES[rule])
        splits = _records(out)
        manifests[rule] = json.loads((out / "manifest.json").read_text())
        total = sum(map(len, splits.values())) or 1
        shares = "".join(
            f" {100 * len(splits[s]) / total:5.1f}%" for s in ("train", "validation", "test")
        )
        found = leaks(splits)
        print(
            f"{rule:<9}{shares}  {100 * found['exact']:5.1f}% {100 * found['near']:5.1f}%"
            f" {100 * found['old']:5.1f}%   ({total} records, {found['held']} val+test)"
        )
    if "default" in manifests:
        funnel = manifests["default"]["funnel"]
        print(
            f"\nfunnel (default export): {funnel['commits']} commits,"
            f" {funnel['commits_with_examples']} with examples, {funnel['examples']} examples"
        )
        order = {reason: n for n, reason in enumerate(FUNNEL_ORDER)}
        for reason, n in sorted(funnel["left_out"].items(), key=lambda r: order.get(r[0], 99)):
            print(f"  - {reason:<18} {n:>7}  {100 * n / max(funnel['examples'], 1):5.1f}%")
        print(f"  = exported           {sum(funnel['exported'].values()):>7}  {funnel['exported']}")
        off = manifests["default"].get("splits_off_ratio")
        print(f"  splits off their ratio by more than 2 points: {off or 'none'}")
        records = [r for split in _records(tmp / "default").values() for r in split]
        rng = random.Random(args.seed)
        for n, record in enumerate(rng.sample(records, min(args.sample, len(records))), 1):
            segs = {s["kind"]: s["text"] for s in record["segments"]}
            context = [k for k in segs if k.startswith(("ctx_", "edit_"))]
            print(
                f"\n===== {n}. {record['path']} {record['kind']} {record['qualname']}"
                f" ({record['change']}, {record['split']}, {record['commit'][:10]})"
            )
            print(f"--- msg: {segs.get('msg', '')[:300]!r}")
            print(f"--- context: {', '.join(context) or 'none'}")
            if "old" in segs:
                print("--- old:\n" + "\n".join(segs["old"].splitlines()[:40]))
            print("--- target:\n" + "\n".join(record["target"].splitlines()[:60]))
    print(f"\nkept {tmp}" if args.db else "")


if __name__ == "__main__":
    main()
