"""Time `git commit` with and without the hook, and how soon a commit is captured.

Usage: python bench/hook.py [--commits 200] [--history 5000]

In one run, in temp dirs (generated repositories; real ones stay out of this):
  1. 200 `git commit`s in a repo without hooks, then 200 more after `hook install`,
     back to back, then 20 one second apart (as people commit): the overhead per
     commit and the ratio (goal: under 10 ms a commit). Back to back, the syncs the
     hooks start compete with git for the 2 cores; spaced, the hook's own cost shows.
  2. capture time: from a commit returning to its row (and examples) being in the
     store, polled every 5 ms, for a commit on a history of 10 commits and on one of
     5,000 (goal: about 1 s, and the same at both lengths).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

CLI = Path(sys.executable).parent / "commit-indexer"
ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def git(repo: Path, *args: str, stdin: bytes | None = None) -> None:
    subprocess.run(
        ["git", *args],
        cwd=repo,
        env=ENV,
        input=stdin,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def new_repo(root: Path, history: int) -> Path:
    """A repo with `history` commits (fast-import), each changing one of 20 files."""
    repo = Path(tempfile.mkdtemp(prefix=f"repo-{history}-", dir=root))
    git(repo, "init", "-q", "-b", "main", "--template=")
    stream = []
    for n in range(history):
        body = f"pub fn f{n}() -> u64 {{\n    {n}\n}}\n".encode()
        msg = f"commit {n}".encode()
        stream += [
            b"commit refs/heads/main",
            f"committer Bench <bench@example.com> {1_700_000_000 + n} +0000".encode(),
            f"data {len(msg)}".encode(),
            msg,
            f"M 100644 inline src/m{n % 20}.rs".encode(),
            f"data {len(body)}".encode(),
            body,
        ]
    git(repo, "fast-import", "--quiet", stdin=b"\n".join(stream) + b"\n")
    git(repo, "reset", "-q", "--hard", "main")
    return repo


def commit_times(repo: Path, count: int, tag: str, pause: float = 0.0) -> list[float]:
    times = []
    for n in range(count):
        time.sleep(pause)
        (repo / "src" / "bench.rs").write_text(f"pub fn {tag}{n}() -> u64 {{\n    {n}\n}}\n")
        git(repo, "add", "-A")
        start = time.perf_counter()
        git(repo, "commit", "-q", "-m", f"{tag} {n}")
        times.append(time.perf_counter() - start)
    return times


def capture_time(repo: Path, url: str) -> float:
    (repo / "src" / "captured.rs").write_text(f"pub fn c() -> f64 {{\n    {time.time()}\n}}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "to capture")
    done = time.perf_counter()
    oid = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, env=ENV, capture_output=True, text=True, check=True
    ).stdout.strip()
    engine = sa.create_engine(url)
    try:
        while time.perf_counter() - done < 30:
            try:
                with engine.connect() as conn:
                    found = conn.exec_driver_sql(
                        "SELECT count(*) FROM examples e JOIN commits c ON c.id = e.commit_id"
                        " WHERE c.oid = ?",
                        (oid,),
                    ).scalar()
            except sa.exc.OperationalError:
                found = 0
            if found:
                return time.perf_counter() - done
            time.sleep(0.005)
    finally:
        engine.dispose()
    return float("inf")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commits", type=int, default=200)
    ap.add_argument("--history", type=int, default=5000)
    ap.add_argument("--spaced", type=int, default=20, help="commits one second apart")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="commit-indexer-hook-bench-"))

    repo = new_repo(root, 10)
    plain = commit_times(repo, args.commits, "plain")
    subprocess.run(
        [str(CLI), "backfill", "--repo", str(repo)], env=ENV, check=True, capture_output=True
    )
    subprocess.run(
        [str(CLI), "hook", "install", "--repo", str(repo)], env=ENV, check=True, capture_output=True
    )
    hooked = commit_times(repo, args.commits, "hooked")
    time.sleep(2)  # let the last background sync finish
    spaced = commit_times(repo, args.spaced, "spaced", pause=1.0)
    time.sleep(2)
    a, b, c = (statistics.median(x) for x in (plain, hooked, spaced))
    print(
        f"git commit, median: without hook {a * 1000:.1f} ms; with hook, {args.commits} "
        f"back to back {b * 1000:.1f} ms, {args.spaced} one second apart {c * 1000:.1f} ms"
    )
    print(
        f"overhead per commit, back to back {1000 * (b - a):.1f} ms (ratio {b / a:.2f})"
        f"  goal < 10 ms {'PASS' if b - a < 0.010 else 'FAIL'}"
        "  (the background syncs of earlier commits share the cores)"
    )
    print(
        f"overhead per commit, one second apart {1000 * (c - a):.1f} ms (ratio {c / a:.2f})"
        f"  goal < 10 ms {'PASS' if c - a < 0.010 else 'FAIL'}"
    )

    for history in (10, args.history):
        repo = new_repo(root, history)
        url = f"sqlite:///{repo / '.git' / 'commit-indexer' / 'index.db'}"
        subprocess.run(
            [str(CLI), "backfill", "--repo", str(repo)], env=ENV, check=True, capture_output=True
        )
        subprocess.run(
            [str(CLI), "hook", "install", "--repo", str(repo)],
            env=ENV,
            check=True,
            capture_output=True,
        )
        samples = sorted(capture_time(repo, url) for _ in range(5))
        print(
            f"capture on a history of {history:>5} commits: median "
            f"{statistics.median(samples):.2f} s (min {samples[0]:.2f}, max {samples[-1]:.2f})"
        )
    print(f"(temp dir {root}; delete it when done)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
