"""How a command's Python process is tuned at its start and ended at its finish.

Both are measured on rust-lang/log's backfill (1,006 commits, 2 to 2.5 s):
- The cyclic garbage collector ran about 500 times a process, mostly over objects that
  live for the whole command (imported modules, caches of the symbol table), and took
  a tenth of the CPU. Almost everything the indexer frees, reference counting frees;
  collecting every 50,000 new container objects instead of every 700 keeps the
  collector for the rare cycle (median CPU 4.2 → 3.8 s).
- Tearing the interpreter down, object by object, took 0.12 to 0.2 s after the last
  line was printed: that is the cost of freeing SQLAlchemy's, pygit2's and our own
  modules, paid by every command including the hook's sync. By then the work is
  committed and every file is closed, so the process ends without it.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import threading
from collections.abc import Callable

GC_THRESHOLDS = (50_000, 50, 100)  # CPython's default is (700, 10, 10)


def tune() -> None:
    """Set the garbage collector for a command (a forked parser worker inherits it)."""
    gc.set_threshold(*GC_THRESHOLDS)


def run_and_exit(command: Callable[[], object]) -> None:
    """Run `command` (which ends with SystemExit, as a click app does), then end the
    process without the interpreter's teardown: exit handlers run first (weakref
    finalizers, multiprocessing's, logging's), then the standard streams are flushed.
    While another thread still runs, the process exits the ordinary way, which waits
    for it."""
    try:
        command()
        code: object = 0
    except SystemExit as done:
        code = done.code
    if threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()
    status = _status(code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`) or a closed stream
            status = status or 120  # what Python's own exit gives when its flush fails
    os._exit(status)


def _status(code: object) -> int:
    """The exit status SystemExit(code) gives: None is 0, an int is itself, anything
    else is printed to stderr and is 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1
