"""The least work any parser-based indexer of a repo's history must do.

Usage: python bench/reference_parse.py REPO

Find every distinct blob that sits at a `.rs` path in any commit reachable from any
ref, read it once and parse it once with tree-sitter-rust, in one process, storing
nothing. Prints JSON on its last stdout line:
{"blobs": N, "bytes": total_bytes, "seconds": t, "skipped": K}.

Finding the blobs: a blob at path P in commit C is either in a root commit's tree or
differs from what C's first parent has at P, so diffing every commit against its first
parent (against the empty tree for a root) and keeping the new side of each delta sees
every blob of every reachable tree. Listing `git rev-list --objects --all` by name is
not enough: it names each blob once, by the first path it met, which may not end in .rs.

Blobs over 1 MB or containing a NUL byte are skipped, as the indexer skips them.
"""

import time

START = time.perf_counter()  # the timing covers imports, enumeration, reading, parsing

import json  # noqa: E402
import sys  # noqa: E402

import pygit2  # noqa: E402
import tree_sitter as ts  # noqa: E402
import tree_sitter_rust as tsr  # noqa: E402

MAX_BLOB_BYTES = 1_000_000
REGULAR_FILE_MODES = {pygit2.enums.FileMode.BLOB, pygit2.enums.FileMode.BLOB_EXECUTABLE}


def rs_blob_ids(repo: pygit2.Repository) -> list[pygit2.Oid]:
    """Distinct blob ids at .rs paths in all commits reachable from all refs (and HEAD)."""
    walker = repo.walk(None, pygit2.enums.SortMode.NONE)
    tips = [repo.references[name] for name in repo.references]
    if not repo.head_is_unborn:
        tips.append(repo.head)
    for ref in tips:
        try:
            walker.push(ref.peel(pygit2.Commit).id)
        except (pygit2.InvalidSpecError, ValueError):  # a ref to a blob or tree
            continue
    seen: dict[pygit2.Oid, None] = {}  # a set that keeps discovery order (pack locality)
    for commit in walker:
        if commit.parents:
            diff = commit.parents[0].tree.diff_to_tree(commit.tree)
        else:
            diff = commit.tree.diff_to_tree(swap=True)  # empty tree -> root tree
        for delta in diff.deltas:
            new = delta.new_file
            if new.mode in REGULAR_FILE_MODES and new.path.endswith(".rs"):
                seen[new.id] = None
    return list(seen)


def main() -> None:
    repo = pygit2.Repository(sys.argv[1])
    parser = ts.Parser(ts.Language(tsr.language()))
    blobs = total = skipped = 0
    for oid in rs_blob_ids(repo):
        data = repo[oid].data
        if len(data) > MAX_BLOB_BYTES or b"\0" in data:
            skipped += 1
            continue
        parser.parse(data)
        blobs += 1
        total += len(data)
    seconds = round(time.perf_counter() - START, 3)
    print(json.dumps({"blobs": blobs, "bytes": total, "seconds": seconds, "skipped": skipped}))


if __name__ == "__main__":
    main()
