"""Exclusive file locks (flock) between commit-indexer processes on one machine, and how
long a store's connection waits for another process's lock."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

BUSY_TIMEOUT_MS = 30_000


@contextmanager
def file_lock(path: Path, wait: bool = True) -> Iterator[bool]:
    """Hold an exclusive lock on `path` (created if needed). With `wait=False`, yield
    False at once if another process holds it, instead of waiting for it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle, held(handle, wait) as mine:
        yield mine


@contextmanager
def held(handle: IO[str], wait: bool = True) -> Iterator[bool]:
    """`file_lock` on a file already open (a hook hands its sync the descriptor it
    locked: flock on the same open file is that same lock, so taking it succeeds)."""
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        yield False
        return
    try:
        yield True
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
