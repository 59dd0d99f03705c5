"""Git hooks: install, uninstall and report on the hooks that feed commits to `sync`,
and `run_hook`, what an installed hook runs in the background.

Hooks go into the hooks directory git really uses: `core.hooksPath` when it is set,
else the common git dir's `hooks/` (shared by every worktree). A hook that is already
there (pre-commit's, husky's, the user's own) is moved to `<name>.legacy` and run
first by ours; uninstall puts it back byte for byte. The interpreter that installed
the hook is written into it, so a virtualenv works from any shell or GUI client.
"""

from __future__ import annotations

import os
import shlex
import sys
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pygit2

from indexer import git
from indexer.errors import IndexerError
from indexer.locks import file_lock
from indexer.resources import resource_dir

HOOK_TYPES = ("post-commit", "post-merge", "post-rewrite", "post-checkout")
MARKER = "commit-indexer-hook"  # "is this hook ours?" means this is in the file
LOG_LINES_KEPT = 200


@dataclass(frozen=True)
class HookState:
    hook_type: str
    path: Path
    installed: bool
    chained: Path | None  # the previous hook, now `<name>.legacy`, run first by ours
    foreign: bool  # a hook that is not ours sits there (only before install)
    manager: str | None  # who wrote the chained or foreign hook, when we can tell


def hooks_dir(repo: pygit2.Repository) -> Path:
    """The folder git runs hooks from: core.hooksPath, or the common git dir's hooks."""
    try:
        configured = repo.config["core.hooksPath"]
    except KeyError:
        return git.common_dir(repo) / "hooks"
    path = Path(os.path.expanduser(configured))
    if not path.is_absolute():  # relative to the work tree, as git reads it
        path = Path(repo.workdir or git.common_dir(repo)) / path
    return path


def _is_ours(path: Path) -> bool:
    try:
        return MARKER in path.read_text(errors="replace")
    except OSError:
        return False


def _script(hook_type: str) -> str:
    template = (resource_dir("hooks") / "hook.sh").read_text()
    return template.replace("__HOOK_TYPE__", hook_type).replace(
        "__PYTHON__", shlex.quote(sys.executable)
    )


# How the hook managers we know mark the scripts they install.
MANAGERS = {"pre-commit": "pre-commit", "husky": "husky", "lefthook": "lefthook"}


def _manager(path: Path) -> str | None:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return None
    return next((name for name, mark in MANAGERS.items() if mark in text), None)


def _state(folder: Path, hook_type: str) -> HookState:
    path = folder / hook_type
    legacy = folder / f"{hook_type}.legacy"
    ours = path.exists() and _is_ours(path)
    chained = legacy if ours and legacy.exists() else None
    foreign = path.exists() and not ours
    other = chained or (path if foreign else None)
    return HookState(
        hook_type,
        path,
        installed=ours,
        chained=chained,
        foreign=foreign,
        manager=_manager(other) if other else None,
    )


def install(repo_path: str, hook_types: tuple[str, ...] = HOOK_TYPES) -> list[HookState]:
    """Install our hooks (again: installing twice changes nothing)."""
    repo = git.open_repo(repo_path)
    folder = hooks_dir(repo)
    folder.mkdir(parents=True, exist_ok=True)
    states = []
    for hook_type in hook_types:
        path = folder / hook_type
        legacy = folder / f"{hook_type}.legacy"
        if path.exists() and not _is_ours(path):
            if legacy.exists():
                raise IndexerError(
                    f"both {path} and {legacy} exist and neither is commit-indexer's",
                    hint=f"merge them into one {hook_type} hook, then install again",
                )
            os.replace(path, legacy)  # a rename keeps the bytes and the mode
        script = _script(hook_type)
        if not (path.exists() and path.read_text() == script):
            temp = folder / f".{hook_type}.commit-indexer.tmp"
            temp.write_text(script)
            temp.chmod(0o755)
            os.replace(temp, path)
        states.append(_state(folder, hook_type))
    (git.common_dir(repo) / "commit-indexer" / "interpreter-gone").unlink(missing_ok=True)
    return states


def uninstall(repo_path: str, hook_types: tuple[str, ...] = HOOK_TYPES) -> list[HookState]:
    """Remove our hooks and put back the ones they chained."""
    repo = git.open_repo(repo_path)
    folder = hooks_dir(repo)
    for hook_type in hook_types:
        path = folder / hook_type
        legacy = folder / f"{hook_type}.legacy"
        if path.exists() and _is_ours(path):
            path.unlink()
            if legacy.exists():
                os.replace(legacy, path)
    return [_state(folder, t) for t in hook_types]


def status(repo_path: str) -> list[HookState]:
    repo = git.open_repo(repo_path)
    folder = hooks_dir(repo)
    return [_state(folder, t) for t in HOOK_TYPES]


def log_path(repo: pygit2.Repository) -> Path:
    return git.common_dir(repo) / "commit-indexer" / "hook.log"


def _log(path: Path, message: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = path.read_text(errors="replace").splitlines()[-LOG_LINES_KEPT:] if path.exists() else []
    lines.extend(f"{stamp} {line}" for line in message.rstrip("\n").splitlines())
    temp = path.with_suffix(".tmp")
    temp.write_text("\n".join(lines) + "\n")
    os.replace(temp, path)


def run_hook(repo_path: str, hook_type: str, db_url: str | None = None) -> None:
    """What an installed hook runs, detached: sync, logging instead of raising.

    Hooks fire in bursts (a rebase runs post-rewrite and post-checkout back to back):
    each run marks that work is pending, and whoever holds the lock syncs until nothing
    is pending, so a burst costs one or two syncs, not one per commit.
    """
    for name in [n for n in os.environ if n.startswith("GIT_")]:
        del os.environ[name]  # git's hook environment is not ours: open the repo by path
    try:
        os.nice(10)  # background work: the user's next command comes first
    except OSError:
        pass
    repo = git.open_repo(repo_path)
    folder = git.common_dir(repo) / "commit-indexer"
    folder.mkdir(parents=True, exist_ok=True)
    pending = folder / "sync.pending"
    pending.touch()
    log = log_path(repo)
    running = folder / "sync.running"  # tells the hook script not to start another
    while True:
        with file_lock(folder / "sync.lock", wait=False) as mine:
            if not mine:
                return  # the holder will see `pending` and sync again
            running.touch()
            try:
                while pending.exists():
                    pending.unlink()
                    _sync_and_log(repo_path, hook_type, db_url, log)
            finally:
                running.unlink(missing_ok=True)
        if not pending.exists():
            return  # else a hook came as we finished, saw `running` and left it to us


def _sync_and_log(repo_path: str, hook_type: str, db_url: str | None, log: Path) -> None:
    from indexer.sync import open_target, sync

    try:
        target = open_target(repo_path, db_url)
        try:
            # All refs, not just HEAD: runs coalesce, and by the time a burst is
            # synced HEAD may be elsewhere (a rebase, then a checkout of another branch).
            result = sync(target, workers=1)  # one core; the user's work has the rest
        finally:
            target.close()
        _log(log, f"{hook_type}: indexed {result.commits} commits")
    except IndexerError as exc:
        hint = f" ({exc.hint})" if exc.hint else ""
        _log(log, f"{hook_type}: error: {exc.message}{hint}")
    except Exception:  # a hook never breaks git: the traceback goes to the log
        _log(log, f"{hook_type}: internal error:\n{traceback.format_exc()}")


def last_log_lines(repo_path: str, count: int = 3) -> list[str]:
    path = log_path(git.open_repo(repo_path))
    if not path.exists():
        return []
    return path.read_text(errors="replace").splitlines()[-count:]
