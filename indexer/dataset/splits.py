"""Which split each example goes to, so that a test score measures more than memory.

`lineage` (the default): every version of one item is in one split. An item's
lineage starts at its first version and follows it through modifications, file
renames (`changes` of status R) and moves (an example's `origin`); the split is a
stable hash of the lineage's first identity (path, kind, qualified name), so an
item's history never straddles splits, a new commit never moves an example, and an
item deleted and added again (a revert) is back in its lineage.

Then train is cleaned of outer clones, CommitChronicle's rule: a train example
whose target or old code is a near-duplicate of a validation or test target (MinHash of
3-word shingles, `CLONE_THRESHOLD`) is left out and counted, so the verbatim copies
that a history is full of (an item's next version starts as its last one, code
pasted from one place to another) do not tie train to test.

`commit` (a hash of the commit id: every example of a commit in one split), `time`
(the oldest commits train, the newest test) and `repo` (a hash of the repo's name,
for stores whose repos are exported one by one and trained on together) stay.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from indexer.dataset.dedup import NUM_PERM, SEED, _band_key, shingles
from indexer.dataset.export import DEFAULT_RATIOS
from indexer.errors import IndexerError

RULES = ("lineage", "commit", "time", "repo")
DEFAULT_RULE = "lineage"
Ratios = Sequence[tuple[str, float]]
# A split this many points from its ratio is reported (manifest, card, a warning).
RATIO_TOLERANCE = 0.02
# Below the near-duplicate threshold a leak is measured at (0.85, in bench/quality.py):
# MinHashLSH finds a pair near its threshold only by chance, so pairs at 0.85 are
# looked for at 0.8.
CLONE_THRESHOLD = 0.8


def check_rule(rule: str) -> str:
    if rule == "hash":  # the name of `commit` before issue 18
        return "commit"
    if rule not in RULES:
        raise IndexerError(f"unknown split '{rule}'", hint=f"use --split {' or '.join(RULES)}")
    return rule


_SPLIT_ALIASES = {"val": "validation"}


def parse_ratios(text: str) -> tuple[tuple[str, float], ...]:
    """`0.8,0.1,0.1` (train, validation, test), or `train=0.8,validation=0.1,test=0.1`
    (`val` for short)."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    names = [name for name, _ in DEFAULT_RATIOS]
    try:
        if all("=" in p for p in parts):
            ratios = tuple(
                (_SPLIT_ALIASES.get(k.strip(), k.strip()), float(v))
                for k, v in (p.split("=", 1) for p in parts)
            )
        else:
            ratios = tuple(zip(names, map(float, parts), strict=True))
    except ValueError:
        ratios = ()
    if (
        tuple(name for name, _ in ratios) != tuple(names)
        or any(r < 0 for _, r in ratios)
        or abs(sum(r for _, r in ratios) - 1.0) > 1e-6
    ):
        raise IndexerError(
            f"--ratios {text!r} is not three ratios for train, validation and test that add"
            " up to 1",
            hint="use e.g. --ratios 0.8,0.1,0.1",
        )
    return ratios


Identity = tuple[str, str, str]  # path, kind, qualified name (with its `#2`)


@dataclass
class Lineages:
    """The first identity of each item's lineage, learned in commit order (parents
    first): `renamed` for each file a commit renames, then `root` for each example."""

    _roots: dict[Identity, Identity] = field(default_factory=dict)
    _by_path: dict[str, set[tuple[str, str]]] = field(default_factory=dict)

    def renamed(self, old_path: str, path: str) -> None:
        for kind, qualname in sorted(self._by_path.get(old_path, ())):
            old = (old_path, kind, qualname)
            self._set((path, kind, qualname), self._roots.get(old, old))

    def root(self, path: str, kind: str, qualname: str, origin: tuple[str, str] | None) -> Identity:
        """The lineage of the example of (path, kind, qualname), whose old version was
        at `origin` (path, qualname) when elsewhere."""
        me = (path, kind, qualname)
        came_from = me if origin is None else (origin[0], kind, origin[1])
        root = self._roots.get(came_from, self._roots.get(me, came_from))
        self._set(me, root)
        return root

    def _set(self, me: Identity, root: Identity) -> None:
        self._roots[me] = root
        self._by_path.setdefault(me[0], set()).add(me[1:])


def lineage_key(repo: str, root: Identity) -> str:
    return "\0".join((repo, *root))


class Clones:
    """The validation and test targets, to find the train examples that are their clones."""

    def __init__(self, threshold: float = CLONE_THRESHOLD) -> None:
        from datasketch import MinHash, MinHashLSH

        self._lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM, hashfunc=_band_key)
        self._prototype = MinHash(num_perm=NUM_PERM, seed=SEED)
        self._exact: set[bytes] = set()
        self._n = 0

    def _minhash(self, text: str) -> Any:
        minhash = self._prototype.copy()
        minhash.update_batch(sorted(shingles(text)))
        return minhash

    def add(self, target: str) -> None:
        key = _normal_key(target)
        if key in self._exact:
            return
        self._exact.add(key)
        self._lsh.insert(self._n, self._minhash(target), check_duplication=False)
        self._n += 1

    def of(self, texts: Iterable[str]) -> bool:
        """Whether any of `texts` (a train target, its old code) is a clone."""
        for text in texts:
            if not text.strip():
                continue
            if _normal_key(text) in self._exact:
                return True
            if self._n and self._lsh.query(self._minhash(text)):
                return True
        return False


def _normal_key(text: str) -> bytes:
    return hashlib.blake2b(" ".join(text.split()).encode(), digest_size=16).digest()


def off_ratio(counts: dict[str, int], ratios: Ratios) -> dict[str, dict[str, float]]:
    """The splits more than RATIO_TOLERANCE from their ratio: {split: {ratio, share}}."""
    total = sum(counts.values())
    if not total:
        return {}
    return {
        name: {"ratio": ratio, "share": round(counts.get(name, 0) / total, 4)}
        for name, ratio in ratios
        if abs(counts.get(name, 0) / total - ratio) > RATIO_TOLERANCE
    }
