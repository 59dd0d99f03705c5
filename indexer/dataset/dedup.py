"""Duplicates at export: an example is left out when one exported before it is equal
(`exact`: the same stored content, segments and target) or alike (`near`: targets whose
word shingles have a MinHash Jaccard estimate at or above a threshold).

The first example in export order is kept and every later one like it is left out,
whatever its split, so no content (nor, with `near`, near-copy of a target) is in
two splits. Only exported examples enter the index: one skipped for its length does
not shadow a shorter copy. The repeats of a content left out as a near duplicate count
as exact duplicates.

`near` takes MinHashLSH's candidates as they come (as BigCode's near-dedup does),
without computing their Jaccard estimate: that would keep 128 hash values an example.
A pair just above the threshold can be missed, and one just below it left out.

Memory, the index and nothing else: `exact` keeps one bit per content id of the store
(a bytearray; 125 KB for a million contents). `near` keeps datasketch's MinHashLSH:
for each kept example, one key and one bucket entry per band (8 bands at 0.85), about
2.5 KB an example (tracemalloc, 5,000 short targets; tests/test_dedup.py). datasketch is
imported only for `near` (and by `splits.Clones`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from indexer.errors import IndexerError

MODES = ("none", "exact", "near")
DEFAULT_MODE = "exact"
DEFAULT_THRESHOLD = 0.85
MAX_THRESHOLD = 0.98
NUM_PERM = 128
SEED = 1  # MinHash permutations: fixed, so the same examples are found alike every time
SHINGLE_WORDS = 3  # a target's shingles: runs of this many whitespace-separated words


def _band_key(band: bytes) -> bytes:
    # LSH buckets keyed by 8 bytes instead of a band's 16 x 8 bytes of hash values.
    return hashlib.blake2b(band, digest_size=8).digest()


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[bytes]:
    """The distinct runs of `size` words of `text` (the whole text if it is shorter)."""
    words = text.split()
    if len(words) <= size:
        return {" ".join(words).encode()}
    return {" ".join(words[i : i + size]).encode() for i in range(len(words) - size + 1)}


@dataclass
class Candidate:
    """An example checked against those exported before it."""

    duplicate: str | None  # "exact", "near" or None
    _dedup: Dedup
    _content_id: int
    _minhash: Any = None

    def keep(self) -> None:
        """This example is exported: later examples like it are duplicates."""
        self._dedup._keep(self)


@dataclass
class Dedup:
    """The export's duplicate filter. `info` is what the manifest says of it (the mode,
    its settings, the counts), updated in place as examples are checked."""

    mode: str = DEFAULT_MODE
    threshold: float = DEFAULT_THRESHOLD
    info: dict[str, Any] = field(default_factory=dict)
    _bits: bytearray = field(default_factory=bytearray)
    _lsh: Any = None
    _prototype: Any = None
    _kept: int = 0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise IndexerError(f"unknown dedup mode {self.mode!r}", hint="use none, exact or near")
        if not 0.0 < self.threshold <= MAX_THRESHOLD:
            raise IndexerError(
                f"the near-duplicate threshold {self.threshold} is not in (0, {MAX_THRESHOLD}]",
                hint="use a Jaccard similarity such as 0.85 (above 0.98, MinHashLSH with"
                f" {NUM_PERM} permutations has fewer than 2 bands; use --dedup exact)",
            )
        self.info["mode"] = self.mode
        if self.mode != "none":
            self.info["exact_duplicates"] = 0
        if self.mode == "near":
            self.info.update(
                near_duplicates=0,
                threshold=self.threshold,
                num_perm=NUM_PERM,
                seed=SEED,
                shingles=f"{SHINGLE_WORDS} whitespace-separated words of the target",
            )
            from datasketch import MinHash, MinHashLSH

            self._lsh = MinHashLSH(threshold=self.threshold, num_perm=NUM_PERM, hashfunc=_band_key)
            self._prototype = MinHash(num_perm=NUM_PERM, seed=SEED)

    def check(self, content_id: int, target: str) -> Candidate:
        """Whether an example (its stored content id and target) repeats one kept before."""
        if self.mode == "none":
            return Candidate(None, self, content_id)
        byte, bit = content_id >> 3, 1 << (content_id & 7)
        if byte < len(self._bits) and self._bits[byte] & bit:
            self.info["exact_duplicates"] += 1
            return Candidate("exact", self, content_id)
        minhash = None
        if self.mode == "near":
            minhash = self._prototype.copy()  # the permutations without computing them again
            minhash.update_batch(sorted(shingles(target)))
            if self._lsh.query(minhash):
                self.info["near_duplicates"] += 1
                self._set(content_id)  # its exact repeats are exact duplicates, found cheaply
                return Candidate("near", self, content_id)
        return Candidate(None, self, content_id, minhash)

    def _set(self, content_id: int) -> None:
        byte = content_id >> 3
        if byte >= len(self._bits):
            self._bits.extend(bytes(max(byte + 1 - len(self._bits), len(self._bits))))
        self._bits[byte] |= 1 << (content_id & 7)

    def _keep(self, candidate: Candidate) -> None:
        if self.mode == "none":
            return
        self._set(candidate._content_id)
        if candidate._minhash is not None:
            self._lsh.insert(self._kept, candidate._minhash, check_duplication=False)
        self._kept += 1
