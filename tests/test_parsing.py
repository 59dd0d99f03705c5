"""Reusing an older version's tree gives exactly what a fresh parse gives."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pygit2
import pytest
from gitrepo import Repo

from indexer.index.parsing import SPARE_TREES, BlobParser, ParserPool, unpack
from indexer.rust import parse_blob

BASE = [f"pub fn f{n}(x: u32) -> u32 {{\n    x + {n}\n}}\n" for n in range(30)]


def _versions() -> list[bytes]:
    """Successive versions of one file, edited the ways people edit code."""
    lines = list(BASE)
    out = ["".join(lines)]
    lines.insert(10, "/// inserted in the middle\npub struct Mid { a: u8 }\n")
    out.append("".join(lines))
    del lines[3:6]  # a deletion
    out.append("".join(lines))
    lines[0] = "use std::fmt;\n" + lines[0]  # an edit at the top
    lines[-1] = lines[-1].replace("x + 29", "x * 29 // ünïcödé")  # and at the end
    out.append("".join(lines))
    out.append("".join(lines).rstrip("\n"))  # no newline at the end of file
    out.append("".join(lines).replace("pub fn f12", "pub fn f12( {"))  # a syntax error
    out.append("".join(lines))  # and fixed again
    out.append("".join(lines).replace("\n", "\r\n"))  # CRLF everywhere
    lines.append("impl Mid {\n\tpub fn get(&self) -> u8 {\t self.a }\n}\n")
    out.append("".join(lines).replace("\n", "\r\n"))
    return [v.encode() for v in out]


def test_reused_trees_parse_like_fresh_ones(repo: Repo) -> None:
    oids = []
    for n, version in enumerate(_versions()):
        repo.commit({"src/lib.rs": version}, f"v{n}")
        oids.append(repo.git("rev-parse", "HEAD:src/lib.rs"))
    git_repo = pygit2.Repository(str(repo.path))
    parser = BlobParser(git_repo)
    previous = None
    for oid in oids:
        _oid, size, parsed = parser.parse(oid, previous)
        data = git_repo[oid].data
        assert size == len(data)
        assert parsed == parse_blob(data), f"reused parse differs at {oid}"
        previous = oid
    # every version after the first started from the tree before it, except the one
    # after the syntax error (trees with errors are not kept)
    assert parser.reused == len(oids) - 2


def test_cache_is_bounded_by_source_bytes(repo: Repo) -> None:
    oids = []
    for n in range(6):
        repo.commit({f"src/m{n}.rs": "".join(BASE) + f"// {n}\n"}, f"m{n}")
        oids.append(repo.git("rev-parse", f"HEAD:src/m{n}.rs"))
    size = len("".join(BASE)) + 10
    parser = BlobParser(pygit2.Repository(str(repo.path)), cache_bytes=2 * size)
    for oid in oids:
        parser.parse(oid)
    parser.parse(oids[0], previous=oids[0])  # evicted: parsed fresh
    parser.parse(oids[-1], previous=oids[-1])  # still cached: reused
    assert parser.reused == 1


def test_a_version_edited_on_two_branches_is_reused_by_both(repo: Repo) -> None:
    """The first branch's edit takes the tree of the version they share; a copy of it
    serves the second branch, while SPARE_TREES other trees are taken after it."""
    git_repo = pygit2.Repository(str(repo.path))
    base = "".join(BASE)
    shared = git_repo.create_blob(base.encode())
    left = git_repo.create_blob(("use std::fmt;\n" + base).encode())
    right = git_repo.create_blob((base + "pub struct Right;\n").encode())
    others = [git_repo.create_blob(f"{base}// {n}\n".encode()) for n in range(SPARE_TREES + 1)]
    parser = BlobParser(git_repo)
    parser.parse(str(shared))
    for oid in (left, right):
        _oid, _size, parsed = parser.parse(str(oid), str(shared))
        assert parsed == parse_blob(git_repo[oid].data)
    assert parser.reused == 2
    # a version whose tree was taken longer ago (SPARE_TREES takes) is parsed afresh
    parser.parse(str(shared))
    parser.parse(str(left), str(shared))
    for n, other in enumerate(others):
        parser.parse(str(other), str(shared) if n == 0 else str(others[n - 1]))
    reused = parser.reused
    _oid, _size, parsed = parser.parse(str(right), str(shared))
    assert parser.reused == reused
    assert parsed == parse_blob(git_repo[right].data)


def test_a_pool_result_larger_than_a_pipe_comes_back_whole(repo: Repo) -> None:
    """A batch's packed result is larger than a default pipe (64 KB)."""
    files = {f"src/m{n}.rs": "".join(BASE).replace("pub fn f", f"pub fn m{n}_") for n in range(60)}
    repo.commit(files, "many items")
    oids = [repo.git("rev-parse", f"HEAD:{path}") for path in files]
    pool = ParserPool(str(repo.path), 1, 1_000_000)
    try:
        [future] = pool.submit([(oid, None) for oid in oids])
        packed = future.result()
    finally:
        pool.close()
    assert sum(len(blob) for _oid, _size, blob in packed) > 64 * 1024
    git_repo = pygit2.Repository(str(repo.path))
    for oid, size, blob in packed:
        assert unpack(blob) == parse_blob(git_repo[oid].data)
        assert size == len(git_repo[oid].data)


ORPHAN = """
import sys, time
from indexer.index.parsing import ParserPool
pool = ParserPool(sys.argv[1], 2, 1_000_000)
print(*(pid for executor in pool._executors for pid in executor._processes), flush=True)
time.sleep(60)
"""


def _running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\\nState:\\tZ" not in status  # a zombie has ended


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_end_when_their_parent_is_killed(repo: Repo) -> None:
    repo.commit({"src/lib.rs": "".join(BASE)}, "one")
    parent = subprocess.Popen(
        [sys.executable, "-c", ORPHAN, str(repo.path)], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    workers = [int(pid) for pid in parent.stdout.readline().split()]
    assert len(workers) == 2 and all(map(_running, workers))
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while any(map(_running, workers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_running, workers))
