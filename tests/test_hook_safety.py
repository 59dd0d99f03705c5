"""What could stop capture or hang a commit without a hook manager in the way: a
shell's CDPATH, a chained hook that runs ours again, a sync killed or unable to start,
a repo with code of its own named like our package, and `watch` over many syncs."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bounded import Sandbox, make_sandbox, remove_sandbox, wait_unlocked
from gitrepo import Repo, cli, count, db_url, wait_for, wait_idle

LIB = "pub struct Config {\n    pub port: u16,\n}\n"
COUNT = 'echo ran >> "$(git rev-parse --git-common-dir)/ran-chained"\n'


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    box = make_sandbox(tmp_path, [])
    yield box
    remove_sandbox(box)


def _chain(box: Sandbox, script: str) -> None:
    box.write({".git/hooks/post-commit": script})
    box.run("commit-indexer", "hook", "install", "--repo", ".")


def _ran(box: Sandbox) -> int:
    path = box.path / ".git" / "ran-chained"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_cdpath_does_not_skip_the_chained_hook(sandbox: Sandbox) -> None:
    sandbox.env["CDPATH"] = ".:/tmp"  # exported, as in many shells' rc files
    _chain(sandbox, "#!/bin/sh\n" + COUNT)
    sandbox.commit("one")
    wait_unlocked(sandbox)
    assert _ran(sandbox) == 1


@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_a_chained_hook_that_runs_ours_again_runs_once(sandbox: Sandbox, shell: str) -> None:
    # It calls the hook by path, as a hook manager running "the hook it found" does: the
    # guard in the environment stops the second entry (else: ours, it, ours, it, ...).
    _chain(sandbox, f'#!/usr/bin/env {shell}\n{COUNT}"$(dirname "$0")/post-commit"\n')
    out = sandbox.commit("one")
    wait_unlocked(sandbox)
    assert "fork" not in out and _ran(sandbox) == 1, out


def test_a_copy_of_ours_as_the_chained_hook_never_runs(sandbox: Sandbox) -> None:
    sandbox.run("commit-indexer", "hook", "install", "--repo", ".")
    hooks = sandbox.path / ".git" / "hooks"
    (hooks / "post-commit.chained").write_bytes((hooks / "post-commit").read_bytes())
    (hooks / "post-commit.chained").chmod(0o755)
    out = sandbox.commit("one")
    wait_unlocked(sandbox)
    assert "fork" not in out, out
    assert "indexed 1 commits" in (sandbox.state / "hook.log").read_text()


def _hook_syncs(repo: Repo) -> list[int]:
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"hook-run" in argv and str(repo.path).encode() in argv:
            found.append(int(proc.name))
    return found


def test_a_killed_sync_stops_nothing_and_is_logged(repo: Repo) -> None:
    repo.commit({"src/lib.rs": LIB}, "one")
    assert cli("backfill", "--repo", repo.path).exit_code == 0
    assert cli("hook", "install", "--repo", repo.path).exit_code == 0
    holder = sqlite3.connect(repo.path / ".git" / "commit-indexer" / "index.db")
    holder.execute("BEGIN EXCLUSIVE")  # the hook's sync waits on it, then is killed
    try:
        repo.commit({"src/lib.rs": LIB.replace("u16", "u32")}, "two")
        deadline = time.monotonic() + 20
        while not (syncs := _hook_syncs(repo)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert syncs, "no sync started"
        for pid in syncs:
            os.kill(pid, signal.SIGKILL)  # as the OOM killer would
    finally:
        holder.rollback()
        holder.close()
    log = repo.path / ".git" / "commit-indexer" / "hook.log"
    deadline = time.monotonic() + 20
    while "died" not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "the sync did not start or died (exit status 137)" in log.read_text()
    # the next commit syncs at once: nothing waits for a marker to grow old
    repo.commit({"src/lib.rs": LIB.replace("u16", "u64")}, "three")
    assert wait_for(db_url(repo), "SELECT count(*) FROM commits", 3, seconds=20) == 3
    wait_idle(repo)


def test_an_interpreter_without_the_package_is_logged_and_shown(repo: Repo) -> None:
    bare = Path(sys.base_prefix) / "bin" / "python3"
    probe = subprocess.run([bare, "-c", "import indexer"], capture_output=True, cwd="/")
    if probe.returncode == 0:
        pytest.skip(f"{bare} can import indexer")
    assert cli("hook", "install", "--repo", repo.path).exit_code == 0
    hook = repo.path / ".git" / "hooks" / "post-commit"
    lines = [
        f"python={bare}" if line.startswith("python=") else line
        for line in hook.read_text().splitlines()
    ]
    hook.write_text("\n".join(lines) + "\n")
    repo.commit({"src/lib.rs": LIB}, "one")
    log = repo.path / ".git" / "commit-indexer" / "hook.log"
    deadline = time.monotonic() + 20
    while (
        "No module named" not in (log.read_text() if log.exists() else "")
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    status = cli("hook", "status", "--repo", repo.path)
    assert "the sync did not start or died (exit status 1)" in status.output, status.output
    assert "No module named indexer" in status.output, status.output


def test_a_folder_of_the_repo_named_indexer_never_runs(repo: Repo) -> None:
    marker = repo.path.parent / "hijacked"
    payload = f"open({str(marker)!r}, 'w').write('ran')\n"
    repo.commit({"indexer/__init__.py": payload, "indexer/__main__.py": payload, "src/lib.rs": LIB})
    assert cli("hook", "install", "--repo", repo.path).exit_code == 0
    repo.commit({"src/lib.rs": LIB.replace("u16", "u32")}, "two")
    assert wait_for(db_url(repo), "SELECT count(*) FROM commits", 2) == 2
    assert cli("hook-run", "--detach", "--repo", repo.path).exit_code == 0
    wait_idle(repo)
    time.sleep(0.5)
    assert not marker.exists()


def test_watch_stays_at_its_own_priority(repo: Repo) -> None:
    repo.commit({"src/lib.rs": LIB}, "one")
    watcher = subprocess.Popen(
        [sys.executable, "-m", "indexer", "watch", "--repo", str(repo.path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = db_url(repo)
        assert wait_for(url, "SELECT count(*) FROM commits", 1) == 1
        repo.commit({"src/lib.rs": LIB.replace("u16", "u32")}, "two")
        assert wait_for(url, "SELECT count(*) FROM commits", 2) == 2
        repo.commit({"src/lib.rs": LIB.replace("u16", "u64")}, "three")
        assert wait_for(url, "SELECT count(*) FROM commits", 3) == 3
        assert os.getpriority(os.PRIO_PROCESS, watcher.pid) == os.getpriority(os.PRIO_PROCESS, 0)
    finally:
        watcher.kill()
        watcher.wait()
    assert count(url, "SELECT count(*) FROM commits") == 3


@pytest.mark.parametrize("how", ["a file in its place", "read-only"])
def test_a_state_folder_it_cannot_write_puts_nothing_in_the_commit_output(
    sandbox: Sandbox, how: str
) -> None:
    sandbox.run("commit-indexer", "hook", "install", "--repo", ".")
    state = sandbox.state
    mounted = False
    if how == "read-only":
        state.mkdir(exist_ok=True)
        if os.geteuid() == 0:  # root writes into any folder but a read-only mount
            for args in (["--bind", state, state], ["-o", "remount,bind,ro", state]):
                done = subprocess.run(["mount", *map(str, args)], capture_output=True)
                if done.returncode != 0:
                    pytest.skip(f"cannot mount read-only: {done.stderr.decode().strip()}")
                mounted = True
        else:
            state.chmod(0o555)
    else:
        state.write_text("not a folder\n")
    try:
        out = sandbox.git("commit", "-q", "--allow-empty", "-m", "one")
    finally:
        if mounted:
            subprocess.run(["umount", str(state)], check=False)
        if state.is_dir():
            state.chmod(0o755)
    assert out == "", out
