"""Backfill a 20,000-commit history in stages: time must grow linearly, memory stay flat.

Usage: python bench/scale.py [--commits 20000] [--seed 1] [--workers N] [--keep]

In one run, in a temp dir (a generated repository; real ones stay out of this):
  1. bench/rust_history.py writes a Rust workspace's history of N commits and
     `git fast-import` loads it under refs/bench/*, which no sync reads. The history
     is revealed by pointing refs/heads/main (HEAD) at its commits (`git update-ref`).
  2. start, at commit 10: a backfill; then, main moved one probe commit on each time
     (probes are alike at both ends: two items of one module changed), five
     `commit-indexer sync`s and five `sync()` calls in this process (the sync without
     the interpreter start); then `hook install` and five `git commit`s, each timed
     until its examples are in the store (bench/hook.py's capture time).
  3. stages: main moved to commit N/10, N/2 and N, each followed by
     `commit-indexer backfill`: its wall time, peak RSS (os.wait4: the largest single
     process) and tree PSS (sampled: the child and its workers together); then the
     same backfill again (nothing to do: the fixed cost, taken out of commits/s).
  4. end, at commit N: the same syncs and captures as at the start.
Then a table and the goals: commits/s of the last stage within 30% of the first
(time linear in commits), memory < 300 MB, each one-commit measurement at the end
within 1.5x of the start's (medians). Exits non-zero only if a command fails. See
bench/README.md.
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
from rust_history import Made, iter_marks, write_history

from indexer.errors import IndexerError
from indexer.index.sync import sync
from indexer.store import open_target

START = 10  # commits in the history at the start
SAMPLES = 5  # of each one-commit measurement at each end; the median is reported


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

    @property
    def cpu_rate(self) -> float:
        """Commits per CPU second (workers included), the fixed cost taken out."""
        return self.new / max(self.run.cpu_seconds - self.rerun.cpu_seconds, 1e-3)


class Failed(Exception):
    """A command the benchmark needs exited non-zero."""


def generate(repo: Path, commits: int, seed: int) -> tuple[Made, dict[int, str]]:
    """Load the history into `repo`: what was made, and each mark's commit id."""
    git(repo, "init", "-q", "-b", "main", "--template=")
    marks = repo / ".git" / "bench-marks"
    cmd = ["git", "fast-import", "--quiet", "--done", "--date-format=raw"]
    proc = subprocess.Popen(
        [*cmd, f"--export-marks={marks}"], cwd=repo, env=ENV, stdin=subprocess.PIPE
    )
    assert proc.stdin is not None
    with proc.stdin:
        made = write_history(proc.stdin, commits, seed, (START, commits), 2 * SAMPLES)
    if proc.wait() != 0:
        raise Failed(f"git fast-import exited {proc.returncode}")
    return made, dict(iter_marks(marks.read_text()))


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


@dataclass
class End:
    """One-commit measurements at one end of the history, in seconds."""

    syncs: list[Run]  # `commit-indexer sync`, the whole process
    in_process: list[tuple[float, float]]  # open_target to close here: (wall, CPU)
    captures: list[float]  # hook: from `git commit` returning to its examples stored


def sync_in_process(repo: Path) -> tuple[float, float]:
    """The sync's own cost, wall and CPU, without the interpreter start and imports
    that are most of the CLI's time (and would hide a cost that grows with history)."""
    wall, cpu = time.perf_counter(), time.process_time()
    target = open_target(str(repo))
    try:
        sync(target, rev="HEAD")
    finally:
        target.close()
    return time.perf_counter() - wall, time.process_time() - cpu


def captures(repo: Path, url: str) -> list[float]:
    """Hook install, then `git commit`s, each timed until its examples are stored."""
    git(repo, "reset", "-q", "--hard", "main")
    git(repo, "clean", "-q", "-fd")
    (repo / "src").mkdir(exist_ok=True)  # capture_time commits src/captured.rs
    checked(run("hook install", [str(CLI), "hook", "install", "--repo", str(repo)]))
    seconds = []
    for _ in range(SAMPLES):
        seconds.append(capture_time(repo, url))
        wait_idle(repo)  # the next commit must start a sync of its own
    checked(run("hook uninstall", [str(CLI), "hook", "uninstall", "--repo", str(repo)]))
    return seconds


def measure_end(repo: Path, url: str, probes: list[str], cmd: list[str]) -> End:
    """Syncs of one new commit (main moved one probe on), then hook captures."""
    syncs, in_process = [], []
    for oid in probes[:SAMPLES]:
        move_main(repo, oid)
        syncs.append(checked(run("sync", cmd)))
    for oid in probes[SAMPLES:]:
        move_main(repo, oid)
        in_process.append(sync_in_process(repo))
    return End(syncs, in_process, captures(repo, url))


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
    sync_cmd = [str(CLI), "sync", "--repo", str(repo), *workers]
    try:
        began = time.perf_counter()
        made, oids = generate(repo, args.commits, args.seed)
        print(
            f"generated {made.commits:,} commits in {time.perf_counter() - began:.1f} s:"
            f" {len(made.main):,} on main, {made.merges} merges, {made.renames} renames,"
            f" {made.modules_added} modules added and {made.modules_deleted} deleted,"
            f" {sum(map(len, made.probes.values()))} probes"
        )
        print(f"repo: {repo}\nstore: {url}\n", flush=True)

        def tip(count: int) -> str:  # the last main-line commit within the first `count`
            return oids[max(m for m in made.main if m <= count)]

        def probes(position: int) -> list[str]:
            return [oids[m] for m in made.probes[position]]

        move_main(repo, tip(START))
        checked(run("start backfill", backfill))
        start = measure_end(repo, url, probes(START), sync_cmd)
        print(f"start ({START} commits): {summary(start)}", flush=True)

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

        end = measure_end(repo, url, probes(made.main[-1]), sync_cmd)
        print(f"end ({args.commits:,} commits): {summary(end)}", flush=True)
        report(rows, start, end, args.commits)
        examples = store_count(db, "examples")
        with_context = store_count(db, "examples", "WHERE resolved != '[]'")
        size = sum(p.stat().st_size for p in db.parent.glob("index.db*"))
        print(
            f"\nstore: {store_count(db, 'commits'):,} commits, {examples:,} examples"
            f" ({with_context / max(examples, 1):.0%} with context from other files),"
            f" {store_count(db, 'blobs'):,} blobs, {size / 1e6:.1f} MB"
        )
        return 0
    except (Failed, IndexerError, subprocess.CalledProcessError) as exc:
        print(f"\nerror: {exc}")
        return 1
    finally:
        if args.keep:
            print(f"\nkept {tmp}")
        else:
            wait_idle(repo)
            shutil.rmtree(tmp, ignore_errors=True)


def median(samples: list[Run] | list[float]) -> float:
    return statistics.median(r.seconds if isinstance(r, Run) else r for r in samples)


def one_commit_rows(end: End) -> dict[str, float]:
    """Median seconds of each one-commit measurement, by the name the goals use."""
    return {
        "commit-indexer sync": median(end.syncs),
        "sync() in this process": median([wall for wall, _ in end.in_process]),
        "sync() in this process, CPU": median([cpu for _, cpu in end.in_process]),
        "capture: commit to examples": median(end.captures),
    }


def summary(end: End) -> str:
    rows = one_commit_rows(end)
    return (
        f"sync of one commit {rows['commit-indexer sync']:.2f} s"
        f" ({rows['sync() in this process']:.3f} s in process),"
        f" hook capture {rows['capture: commit to examples']:.2f} s"
    )


def report(stages: list[Stage], start: End, end: End, commits: int) -> None:
    print(f"\n{'stage':6}{'history':>8}{'new':>8}{'seconds':>9}{'CPU s':>8}{'rerun s':>9}", end="")
    print(f"{'commits/s':>11}{'per CPU s':>11}{'peak RSS MB':>13}{'tree PSS MB':>13}")
    for s in stages:
        print(
            f"{s.label:6}{s.history:>8,}{s.new:>8,}{s.run.seconds:9.1f}{s.run.cpu_seconds:8.1f}"
            f"{s.rerun.seconds:9.2f}{s.rate:11.1f}{s.cpu_rate:11.1f}"
            f"{s.run.peak_rss_mb:13.1f}{s.run.tree_pss_mb:13.1f}"
        )
    print(
        "(commits/s = new / (seconds - rerun), per CPU s the same with CPU seconds: the\n"
        " rerun, nothing to do, is a backfill's fixed cost; CPU counts the workers too)"
    )

    print(f"\n{'one new commit, median of ' + str(SAMPLES):32}", end="")
    print(f"{'at ' + str(START):>9}{'at ' + format(commits, ','):>12}{'end/start':>11}")
    first, last = one_commit_rows(start), one_commit_rows(end)
    for name in first:
        print(f"{name:32}{first[name]:8.3f}s{last[name]:11.3f}s{last[name] / first[name]:11.2f}")
    syncs = start.syncs + end.syncs
    print(f"{'peak RSS of the syncs':32}{max(r.peak_rss_mb for r in syncs):8.1f} MB")

    runs = [s.run for s in stages] + [s.rerun for s in stages] + syncs
    memory = max(max(r.peak_rss_mb, r.tree_pss_mb) for r in runs)
    print("\ngoals: time linear in commits, memory flat under 300 MB, last sync as the first")
    for name, ratio in (
        ("commits/s last/first", stages[-1].rate / stages[0].rate),
        ("per CPU s last/first", stages[-1].cpu_rate / stages[0].cpu_rate),
    ):
        print(f"  {name + ' >= 0.7':46}{ratio:8.2f}     {verdict(ratio >= 0.7)}")
    print(
        f"  {'memory < 300 MB':46}{memory:8.1f} MB  {verdict(memory < 300)}"
        "  (max of RSS and tree PSS)"
    )
    for name in first:
        ratio = last[name] / first[name]
        print(f"  {name + ' end/start <= 1.5':46}{ratio:8.2f}     {verdict(ratio <= 1.5)}")
    print("  (wall times on a shared machine follow the neighbours' load; CPU seconds hardly)")


if __name__ == "__main__":
    sys.exit(main())
