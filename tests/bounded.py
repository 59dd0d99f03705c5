"""Commands that could run away (a hook that runs itself forks without end), run bounded:
at most NPROC processes, and a timeout that kills them all. RLIMIT_NPROC does not hold
root, so as root the bound is a pids cgroup (which also finds the detached syncs to
stop at the end); as another user it is that user's RLIMIT_NPROC.

`Sandbox` is a repo whose every git command, hook install and commit runs that way, and
`hook_managers` finds pre-commit, husky and lefthook, installing the last two from npm.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from gitrepo import wait_idle_at

NPROC = 100  # a commit with a hook manager and a sync uses about 15
TIMEOUT = 60.0
ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".test-tools"  # husky and lefthook from npm, kept between runs
ENV_REQUIRED = "INDEXER_TEST_HOOK_MANAGERS"  # "required": fail instead of skip
NPM_PACKAGES = ("husky@9", "lefthook@2")
PIDS_CGROUPS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))


class Hang(AssertionError):
    pass


class Bound:
    """A process limit for a tree of commands: a pids cgroup as root, else RLIMIT_NPROC."""

    def __init__(self, name: str) -> None:
        self.cgroup: Path | None = None
        self.nproc: int | None = None
        if os.geteuid() != 0:
            mine = sum(1 for p in Path("/proc").glob("[0-9]*") if _owner(p) == os.getuid())
            self.nproc = mine + NPROC  # the limit counts all of this user's processes
            return
        for base in PIDS_CGROUPS:
            if (base / "cgroup.procs").exists() and os.access(base, os.W_OK):
                group = base / name
                try:
                    group.mkdir()
                    (group / "pids.max").write_text(f"{NPROC}\n")
                except OSError:
                    continue
                self.cgroup = group
                return
        pytest.skip("running as root and no pids cgroup to bound a hook that forks")

    def preexec(self) -> None:
        if self.cgroup is not None:
            (self.cgroup / "cgroup.procs").write_text(f"{os.getpid()}\n")
        else:
            import resource

            resource.setrlimit(resource.RLIMIT_NPROC, (self.nproc, self.nproc))

    def kill_all(self) -> None:
        if self.cgroup is None:
            return
        for _ in range(50):
            pids = (self.cgroup / "cgroup.procs").read_text().split()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        try:
            self.cgroup.rmdir()
        except OSError:
            pass


def _owner(proc: Path) -> int | None:
    try:
        return proc.stat().st_uid
    except OSError:
        return None


def run_bounded(
    args: list[str], cwd: Path, env: dict[str, str], bound: Bound, timeout: float = TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run `args` within `bound`; a hang kills its processes and fails the test."""
    proc = subprocess.Popen(
        args,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=bound.preexec,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        bound.kill_all()
        out, _ = proc.communicate()
        raise Hang(f"{' '.join(args)} still ran after {timeout} s:\n{out[-3000:]}") from None
    return subprocess.CompletedProcess(args, proc.returncode, out, "")


@dataclass
class Sandbox:
    """A work tree whose commands all run bounded."""

    path: Path
    env: dict[str, str]
    bound: Bound = field(repr=False)

    def run(self, *args: str | Path, check: bool = True) -> str:
        result = run_bounded([str(a) for a in args], self.path, self.env, self.bound)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(map(str, args))} failed:\n{result.stdout}")
        return result.stdout

    def git(self, *args: str) -> str:
        return self.run("git", "-c", "commit.gpgsign=false", *args)

    def write(self, files: dict[str, str]) -> None:
        for name, text in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            if text.startswith("#!"):
                target.chmod(0o755)

    def commit(self, message: str) -> str:
        self.write({"src/lib.rs": f"pub fn f() -> &'static str {{\n    {message!r}\n}}\n"})
        self.git("add", "-A")
        return self.git("commit", "-q", "-m", message)

    @property
    def state(self) -> Path:
        return self.path / ".git" / "commit-indexer"


def make_sandbox(tmp_path: Path, extra_path: list[Path]) -> Sandbox:
    """A new repo at tmp_path/repo; its commands find our venv and `extra_path` first."""
    env = dict(os.environ)
    env["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit-cache")
    path = [str(Path(sys.executable).parent), *map(str, extra_path), env.get("PATH", "")]
    env["PATH"] = os.pathsep.join(path)
    sandbox = Sandbox(
        tmp_path / "repo", env, Bound(f"commit-indexer-test-{os.getpid()}-{time.monotonic_ns()}")
    )
    sandbox.path.mkdir()
    sandbox.git("init", "-q", "-b", "main")
    return sandbox


def remove_sandbox(sandbox: Sandbox) -> None:
    if (sandbox.state / "sync.lock").exists():
        wait_unlocked(sandbox)
    sandbox.bound.kill_all()


def wait_unlocked(sandbox: Sandbox, seconds: float = 30.0) -> None:
    """Until no sync holds sync.lock and none is pending."""
    wait_idle_at(sandbox.state, seconds)


def hook_managers() -> dict[str, Path]:
    """{tool: executable} for pre-commit, husky and lefthook; skips (or fails, in CI)
    when they cannot be had."""
    found: dict[str, Path] = {}
    pre_commit = Path(sys.executable).parent / "pre-commit"
    if pre_commit.exists():
        found["pre-commit"] = pre_commit
    bin_dir = TOOLS / "node_modules" / ".bin"
    if not all((bin_dir / name).exists() for name in ("husky", "lefthook")) and shutil.which("npm"):
        TOOLS.mkdir(exist_ok=True)
        subprocess.run(
            ["npm", "install", "--silent", "--ignore-scripts", "--no-audit", "--no-fund"]
            + ["--prefix", str(TOOLS)]
            + list(NPM_PACKAGES),
            cwd=TOOLS,  # npm runs lifecycle scripts where it was started: not in this repo
            check=False,
            capture_output=True,
            timeout=300,
        )
    for name in ("husky", "lefthook"):
        if (bin_dir / name).exists():
            found[name] = bin_dir / name
    missing = {"pre-commit", "husky", "lefthook"} - set(found)
    if missing:
        why = f"no {', '.join(sorted(missing))} (pip install pre-commit; npm for the others)"
        if os.environ.get(ENV_REQUIRED) == "required":
            pytest.fail(why)
        pytest.skip(why)
    return found
