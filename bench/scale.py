"""Backfill a 20,000-commit history in stages: time must grow linearly, memory stay flat.

Usage: python bench/scale.py [--commits 20000] [--seed 1] [--workers N] [--keep]

In one run, in a temp dir (a generated repository; real ones stay out of this):
  1. bench/rust_history.py writes a Rust workspace's history of N commits (plus a few
     for the syncs at the end) and `git fast-import` loads it under refs/bench/*,
     which no sync reads. The history is revealed by pointing refs/heads/main
     (HEAD) at its commits with `git update-ref`.
  2. start, at commit 10: a backfill, then three times `commit-indexer sync` of one
     new commit (main moved one commit on), then `hook install` and three `git commit`s,
     each timed until its examples are in the store (bench/hook.py's capture time).
  3. stages: main moved to commit N/10, N/2 and N, each followed by
     `commit-indexer backfill`: its wall time, peak RSS (os.wait4: the largest single
     process) and tree PSS (sampled: the child and its workers together); then the
     same backfill again (nothing to do: the fixed cost, taken out of commits/s).
  4. end, at commit N: the same syncs and captures as at the start.
Then a table and the goals: commits/s of the last stage within 30% of the first
(time linear in commits), memory < 300 MB, the syncs at the end within 1.5x of those
at the start. Exits non-zero only if a command fails. See bench/README.md.
"""

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from backfill import CLI, Run, run, verdict
from hook import ENV, capture_time, git
from rust_history import iter_marks, write_history

START = 10  # commits in the history at the start
SAMPLES = 3  # syncs and captures at each end; the median is reported
EXTRA = SAMPLES  # main-line commits after the last stage, one per sync sample


@dataclass(frozen=True)
class Stage:
    label: str
    history: int  # commits the history was cut at
    new: int  # commits this backfill indexed
    run: Run
    rerun: Run  # the same backfill again, nothing to index: its fixed cost

    @property
    def rate(self) -> float:
        """Commits/s, the fixed cost taken out (it would flatter the longer stages)."""
        return self.new / max(self.run.seconds - self.rerun.seconds, 1e-3)


class Failed(Exception):
    """A command the benchmark needs exited non-zero."""


def generate(repo: Path, commits: int, seed: int) -> tuple[list[int], dict[int, str], str]:
    """Load the history into `repo`; main-line marks, mark -> oid, and a summary."""
    git(repo, "init", "-q", "-b", "main", "--template=")
    marks = repo / ".git" / "bench-marks"
    cmd = ["git", "fast-import", "--quiet", "--done", "--date-format=raw"]
    proc = subprocess.Popen(
        [*cmd, f"--export-marks={marks}"], cwd=repo, env=ENV, stdin=subprocess.PIPE
    )
    assert proc.stdin is not None
    with proc.stdin:
        made = write_history(proc.stdin, commits, EXTRA, seed)
    if proc.wait() != 0:
        raise Failed(f"git fast-import exited {proc.returncode}")
    summary = (
        f"{made.commits:,} commits ({len(made.main):,} on main, {made.merges} merges,"
        f" {made.renames} renames, {made.modules_added} modules added and"
        f" {made.modules_deleted} deleted)"
    )
    return made.main, dict(iter_marks(marks.read_text())), summary


def move_main(repo: Path, oid: str) -> None:
    git(repo, "update-ref", "refs/heads/main", oid)


def checked(r: Run) -> Run:
    if r.returncode != 0:
        raise Failed(f"{r.name} exited {r.returncode}; its stderr:\n{r.stderr.rstrip()}")
    return r


def store_count(db: Path, table: str, where: str = "") -> int:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(f"SELECT count(*) FROM {table} {where}").fetchone()[0]


def wait_idle(repo: Path, limit: float = 120.0) -> None:
    """Until no hook-started sync runs (so the next measurement has the cores)."""
    state = repo / ".git" / "commit-indexer"
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if not (state / "sync.running").exists() and not (state / "sync.pending").exists():
            return
        time.sleep(0.05)


def one_commit_syncs(repo: Path, oids: list[str], cmd: list[str]) -> list[Run]:
    """`commit-indexer sync` after main moved one commit on, for each of `oids`."""
    runs = []
    for oid in oids:
        move_main(repo, oid)
        runs.append(checked(run("sync", cmd)))
    return runs


def captures(repo: Path, url: str) -> list[float]:
    """Hook install, then `git commit`s, each timed until its examples are stored."""
    git(repo, "reset", "-q", "--hard", "main")
    git(repo, "clean", "-q", "-fd")
    (repo / "src").mkdir(exist_ok=True)  # capture_time commits src/captured.rs
    checked(run("hook install", [str(CLI), "hook", "install", "--repo", str(repo)]))
    seconds = []
    for _ in range(SAMPLES):
        seconds.append(capture_time(repo, url))
        wait_idle(repo)
    checked(run("hook uninstall", [str(CLI), "hook", "uninstall", "--repo", str(repo)]))
    return seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commits", type=int, default=20_000, help="history length (>= 200)")
    ap.add_argument("--seed", type=int, default=1, help="of the generated history")
    ap.add_argument("--workers", type=int, help="passed through to backfill and sync")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir with repo and store")
    args = ap.parse_args()
    if args.commits < 200:
        ap.error("--commits must be at least 200")
    # Every child (git, commit-indexer, the hooks) sees no user git config: a global
    # core.hooksPath must not receive the hooks installed here.
    os.environ.clear()
    os.environ.update(ENV)

    tmp = Path(tempfile.mkdtemp(prefix="commit-indexer-scale-"))
    repo = tmp / "repo"
    repo.mkdir()
    db = repo / ".git" / "commit-indexer" / "index.db"  # the hook's store: the default
    url = f"sqlite:///{db}"
    workers = ["--workers", str(args.workers)] if args.workers is not None else []
    backfill = [str(CLI), "backfill", "--repo", str(repo), *workers]
    sync = [str(CLI), "sync", "--repo", str(repo), *workers]
    try:
        began = time.perf_counter()
        main_line, oids, summary = generate(repo, args.commits, args.seed)
        print(f"generated {summary} in {time.perf_counter() - began:.1f} s")
        print(f"repo: {repo}\nstore: {url}\n", flush=True)

        def tip(count: int) -> str:  # the last main-line commit within the first `count`
            return oids[max(m for m in main_line if m <= count)]

        move_main(repo, tip(START))
        checked(run("start backfill", backfill))
        start_syncs = one_commit_syncs(
            repo, [oids[m] for m in range(START + 1, START + 1 + SAMPLES)], sync
        )
        start_captures = captures(repo, url)
        print(
            f"start ({START} commits): sync of one commit {median(start_syncs):.2f} s,"
            f" hook capture {statistics.median(start_captures):.2f} s",
            flush=True,
        )

        stages = [(args.commits // 10, "N/10"), (args.commits // 2, "N/2"), (args.commits, "N")]
        rows: list[Stage] = []
        for count, label in stages:
            before = store_count(db, "commits")
            move_main(repo, tip(count))
            r = checked(run(f"backfill to {count}", backfill))
            new = store_count(db, "commits") - before
            rerun = checked(run(f"backfill rerun at {count}", backfill))
            rows.append(Stage(label, count, new, r, rerun))
            print(f"stage {label}: {new:,} commits in {r.seconds:.1f} s", flush=True)

        end_syncs = one_commit_syncs(repo, [oids[m] for m in main_line[-EXTRA:]], sync)
        end_captures = captures(repo, url)
        report(rows, start_syncs, end_syncs, start_captures, end_captures, args.commits)
        examples = store_count(db, "examples")
        with_context = store_count(db, "examples", "WHERE resolved != '[]'")
        size = sum(p.stat().st_size for p in db.parent.glob("index.db*"))
        print(
            f"\nstore: {store_count(db, 'commits'):,} commits, {examples:,} examples"
            f" ({with_context / max(examples, 1):.0%} with context from other files),"
            f" {store_count(db, 'blobs'):,} blobs, {size / 1e6:.1f} MB"
        )
        return 0
    except (Failed, subprocess.CalledProcessError) as exc:
        print(f"\nerror: {exc}")
        return 1
    finally:
        if args.keep:
            print(f"\nkept {tmp}")
        else:
            wait_idle(repo)
            shutil.rmtree(tmp, ignore_errors=True)


def median(runs: list[Run]) -> float:
    return statistics.median(r.seconds for r in runs)


def report(
    stages: list[Stage],
    start_syncs: list[Run],
    end_syncs: list[Run],
    start_captures: list[float],
    end_captures: list[float],
    commits: int,
) -> None:
    print(f"\n{'stage':7}{'history':>9}{'new':>8}{'seconds':>9}{'rerun s':>9}", end="")
    print(f"{'commits/s':>11}{'peak RSS MB':>13}{'tree PSS MB':>13}")
    for s in stages:
        print(
            f"{s.label:7}{s.history:>9,}{s.new:>8,}{s.run.seconds:9.1f}{s.rerun.seconds:9.2f}"
            f"{s.rate:11.1f}{s.run.peak_rss_mb:13.1f}{s.run.tree_pss_mb:13.1f}"
        )
    print("(commits/s = new / (seconds - rerun): the rerun is the fixed cost of a backfill)")
    syncs = start_syncs + end_syncs
    print(f"\n{'one new commit, median of ' + str(SAMPLES):36}", end="")
    print(f"{'at ' + str(START):>9}{'at ' + format(commits, ','):>12}{'end/start':>11}")
    sync_ratio = median(end_syncs) / median(start_syncs)
    start_capture, end_capture = map(statistics.median, (start_captures, end_captures))
    capture_ratio = end_capture / start_capture
    print(
        f"{'commit-indexer sync':36}{median(start_syncs):8.2f}s{median(end_syncs):11.2f}s"
        f"{sync_ratio:11.2f}"
    )
    print(
        f"{'hook: git commit to examples stored':36}{start_capture:8.2f}s{end_capture:11.2f}s"
        f"{capture_ratio:11.2f}"
    )
    print(f"{'peak RSS of the syncs':36}{max(r.peak_rss_mb for r in syncs):8.1f} MB")

    linear = stages[-1].rate / stages[0].rate
    runs = [s.run for s in stages] + [s.rerun for s in stages] + syncs
    memory = max(max(r.peak_rss_mb, r.tree_pss_mb) for r in runs)
    print("\ngoals: time linear in commits, memory flat under 300 MB, last sync as the first")
    print(
        f"  commits/s last/first >= 0.7      {linear:8.2f}     {verdict(linear >= 0.7)}"
        "  (1.0: flat)"
    )
    print(
        f"  memory < 300 MB                  {memory:8.1f} MB  {verdict(memory < 300)}"
        "  (max of RSS and tree PSS)"
    )
    print(f"  sync end/start <= 1.5            {sync_ratio:8.2f}     {verdict(sync_ratio <= 1.5)}")
    print(
        f"  capture end/start <= 1.5         {capture_ratio:8.2f}     "
        f"{verdict(capture_ratio <= 1.5)}"
    )


if __name__ == "__main__":
    sys.exit(main())
