"""Time a full backfill against git itself and against the reference parse.

Usage: python bench/backfill.py REPO [--workers N] [--repeat N] [--keep]

Runs, one after the other, each as a child process:
  a. git log -p --all --no-merges -- '*.rs'    reading every diff (stdout to /dev/null)
  b. python bench/reference_parse.py REPO      every distinct .rs blob read and parsed once
  c. commit-indexer backfill                   our backfill into a fresh store in a temp dir
  d. the same backfill again                   nothing new to do
and prints wall time and peak RSS of each, the ratios c/a and c/b, and the goals.
With --repeat N, b and c run N times each, alternated, and the fastest of each counts.
First it byte-compiles the installed indexer package, as pip does when it installs
one: with PYTHONDONTWRITEBYTECODE set (this sandbox sets it) an editable install
would compile our changed modules again in every run, which no user's install does.
Peak RSS comes from os.wait4: the largest single process among the child and the
descendants it waited for. "tree PSS" is sampled every 50 ms: the sum of the
proportional set size of the child and all its descendants (parser workers
included, shared pages counted once), the memory the whole command really takes.
See bench/README.md.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLI = Path(sys.executable).parent / "commit-indexer"


def _children_of(pid: int) -> list[int]:
    """The children of `pid`, from each of its threads' `children` file: reading only
    our own tree's files keeps the sampler off the cores the backfill is using (a scan
    of every /proc entry took ~2 ms, 4% of a core at 20 samples a second)."""
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            found.extend(map(int, Path(f"/proc/{pid}/task/{task}/children").read_text().split()))
    except OSError:
        pass
    return found


def tree_pss_mb(root: int) -> float:
    """Sum of PSS over `root` and its descendants, in MB."""
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        stack.extend(_children_of(pid))
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


class PssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.05):
            self.peak = max(self.peak, tree_pss_mb(self.pid))


@dataclass(frozen=True)
class Run:
    name: str
    seconds: float
    peak_rss_mb: float
    tree_pss_mb: float
    returncode: int
    stdout: str
    stderr: str
    # User + system CPU of the child and the descendants it waited for (os.wait4): on
    # a shared machine, unlike wall time, it does not grow with the neighbours' load.
    cpu_seconds: float = 0.0


def run(name: str, cmd: list[str], capture_stdout: bool = False) -> Run:
    """Run cmd to completion; stdout and stderr go to temp files, never to a pipe."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out if capture_stdout else subprocess.DEVNULL,
                stderr=err,
            )
        except FileNotFoundError as e:
            return Run(name, 0.0, 0.0, 0.0, 127, "", f"{e} (is the package installed?)")
        sampler = PssSampler(proc.pid)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        sampler.stop.set()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return Run(
            name,
            seconds,
            usage.ru_maxrss / 1024,  # KB on Linux
            sampler.peak,
            proc.returncode,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
            usage.ru_utime + usage.ru_stime,
        )


def fastest(runs: list[Run]) -> Run:
    """The fastest run, with the largest memory any of them took."""
    best = min(runs, key=lambda r: (r.returncode != 0, r.seconds))
    return replace(
        best,
        peak_rss_mb=max(r.peak_rss_mb for r in runs),
        tree_pss_mb=max(r.tree_pss_mb for r in runs),
    )


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def store_size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.iterdir() if p.name.startswith("index.db"))


def byte_compile_indexer() -> None:
    """Write the .pyc files of the indexer package the CLI imports (b's packages,
    pygit2 and tree-sitter, had theirs written when pip installed them)."""
    where = "import indexer, os; print(os.path.dirname(indexer.__file__))"
    package = subprocess.run(
        [sys.executable, "-c", where], capture_output=True, text=True, check=True
    ).stdout.strip()
    subprocess.run([sys.executable, "-m", "compileall", "-q", package], check=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("repo", type=Path)
    ap.add_argument("--workers", type=int, help="passed through to commit-indexer backfill")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir with the store")
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run b and c this many times each, alternated, and keep the fastest of each"
        " (noise on a shared machine only ever adds time)",
    )
    args = ap.parse_args()
    repo = str(args.repo.resolve())

    tmp = Path(tempfile.mkdtemp(prefix="commit-indexer-bench-"))
    url = f"sqlite:///{tmp / 'index.db'}"
    backfill = [str(CLI), "backfill", "--repo", repo, "--db", url]
    if args.workers is not None:
        backfill += ["--workers", str(args.workers)]

    byte_compile_indexer()
    print(f"repo: {repo}")
    print(f"store: {url}", flush=True)
    runs: list[Run] = []
    try:
        git_cmd = ["git", "-C", repo, "log", "-p", "--all", "--no-merges", "--", "*.rs"]
        runs.append(run("a git log -p", git_cmd))
        ref_cmd = [sys.executable, str(HERE / "reference_parse.py"), repo]
        bs: list[Run] = []
        cs: list[Run] = []
        for n in range(args.repeat):  # alternated, so a slow spell of the machine hits both
            bs.append(run("b reference parse", ref_cmd, capture_stdout=True))
            if n:
                for old in tmp.iterdir():  # each c backfills into a fresh store
                    old.unlink()
            cs.append(run("c backfill", backfill))
            if cs[-1].returncode != 0:
                break
        runs.append(fastest(bs))
        runs.append(fastest(cs))
        if args.repeat > 1:
            for name, times in (("b", bs), ("c", cs)):
                print(f"{name} runs: " + " ".join(f"{r.seconds:.2f}" for r in times) + " s")
        if runs[-1].returncode == 0:
            runs.append(run("d backfill rerun", backfill))

        print()
        print(f"{'':22}{'seconds':>10}{'peak RSS MB':>14}{'tree PSS MB':>14}")
        for r in runs:
            failed = "" if r.returncode == 0 else f"   exit {r.returncode}"
            print(f"{r.name:22}{r.seconds:10.2f}{r.peak_rss_mb:14.1f}{r.tree_pss_mb:14.1f}{failed}")

        for r in runs[:2]:
            if r.returncode != 0:
                print(f"\nwarning: {r.name} failed:\n{r.stderr.strip()}")
        if runs[1].returncode == 0:
            ref = json.loads(runs[1].stdout.strip().splitlines()[-1])
            print(
                f"\nreference: {ref['blobs']} distinct .rs blobs, {ref['bytes'] / 1e6:.1f} MB,"
                f" {ref['skipped']} skipped (its own clock: {ref['seconds']:.2f} s)"
            )

        failed = next((r for r in runs[2:] if r.returncode != 0), None)
        if failed:
            print(f"\nerror: {failed.name} exited {failed.returncode}; its stderr:")
            print(failed.stderr.rstrip())
            return 1

        a, b, c, d = runs
        cb = c.seconds / b.seconds
        rss = max(c.peak_rss_mb, d.peak_rss_mb, c.tree_pss_mb, d.tree_pss_mb)
        print(f"\nc/a (backfill / git log -p):    {c.seconds / a.seconds:6.2f}")
        print(f"c/b (backfill / reference):     {cb:6.2f}")
        print(f"rerun:                          {d.seconds:6.2f} s")
        print("\ngoals: c/b at most 1.0 (never above 1.5); peak RSS < 300 MB; rerun < 1 s")
        print(f"  c/b <= 1.0            {cb:8.2f}     {verdict(cb <= 1.0)}")
        print(f"  c/b <= 1.5            {cb:8.2f}     {verdict(cb <= 1.5)}")
        print(
            f"  memory < 300 MB       {rss:8.1f} MB  {verdict(rss < 300)}  (max of RSS, tree PSS)"
        )
        print(f"  rerun < 1 s           {d.seconds:8.2f} s   {verdict(d.seconds < 1)}")

        print(f"\nstore size: {store_size(tmp) / 1e6:.1f} MB ({tmp})")
        print(f"\n$ commit-indexer stats --db {url} --repo {repo}", flush=True)
        stats = subprocess.run(
            [str(CLI), "stats", "--db", url, "--repo", repo], stdin=subprocess.DEVNULL
        )
        if stats.returncode != 0:
            print(f"(stats failed with exit {stats.returncode}; it may not exist yet)")
        return 0
    finally:
        if args.keep:
            print(f"\nkept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
