"""`watch`: sync whenever the refs move, for commits made where no hook runs (libgit2
GUIs, `git fetch`, scripts that set `core.hooksPath` elsewhere).

watchdog watches the common git dir (HEAD, refs/, packed-refs, and a worktree's own
HEAD); a burst of events (a rebase rewrites many refs) is waited out for a short
debounce, then one sync runs, under the same lock the hooks use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from indexer import git
from indexer.hooks import sync_in_background

DEBOUNCE_SECONDS = 0.5
# Events that change a file. The others (opened, closed_no_write) are reads, and every
# sync reads HEAD and the refs: reacting to them would sync forever.
_WRITES = frozenset({"created", "modified", "moved", "deleted", "closed"})


def _is_ref_change(path: str, git_dir: Path) -> bool:
    try:
        parts = Path(path).relative_to(git_dir).parts
    except ValueError:
        return False
    if not parts or parts[-1].endswith(".lock"):
        return False  # git writes `x.lock` and renames it to `x`: the rename is the event
    return parts[0] in ("refs", "HEAD", "packed-refs") or parts[:1] == ("worktrees",)


class _Handler(FileSystemEventHandler):
    def __init__(self, git_dir: Path, changed: threading.Event) -> None:
        self.git_dir, self.changed = git_dir, changed

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in _WRITES:
            return  # watchdog also reports reads (opened, closed_no_write): a sync's own
        for path in (event.src_path, getattr(event, "dest_path", "")):
            if path and _is_ref_change(str(path), self.git_dir):
                self.changed.set()


def watch(
    repo_path: str,
    db_url: str | None = None,
    stop: threading.Event | None = None,
    on_sync: Callable[[], None] | None = None,
) -> None:
    """Sync now and whenever the refs change, until `stop` is set (or Ctrl-C)."""
    repo = git.open_repo(repo_path)
    git_dir = git.common_dir(repo)
    stop = stop or threading.Event()
    changed = threading.Event()
    changed.set()  # catch up first
    observer = Observer()
    observer.schedule(_Handler(git_dir, changed), str(git_dir), recursive=True)
    observer.start()
    try:
        while not stop.is_set():
            if not changed.wait(timeout=0.2):
                continue
            # Debounce: wait until the refs have been quiet for a moment.
            while changed.is_set() and not stop.is_set():
                changed.clear()
                stop.wait(DEBOUNCE_SECONDS)
            if stop.is_set():
                break
            sync_in_background(repo_path, "watch", db_url)
            if on_sync:
                on_sync()
    finally:
        observer.stop()
        observer.join()
