"""The command's process ends without the interpreter's teardown, but loses nothing:
exit handlers run, output is flushed whole, the exit status is the command's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gitrepo import make_repo


def _buffered() -> dict[str, str]:
    """The environment with stdout block-buffered, as a pipe makes it (PYTHONUNBUFFERED
    would hide output lost at exit)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=_buffered()
    )


def test_exit_handlers_run_and_the_status_is_kept() -> None:
    done = _python(
        "import atexit, sys, weakref\n"
        "from indexer import interpreter\n"
        "class Held: pass\n"
        "held = Held()\n"
        "weakref.finalize(held, print, 'finalized')\n"
        "atexit.register(print, 'handler ran')\n"
        "def command():\n"
        "    sys.stdout.write('x' * 1_000_000 + '\\n')\n"
        "    sys.exit(3)\n"
        "interpreter.run_and_exit(command)\n"
    )
    assert done.returncode == 3
    lines = done.stdout.splitlines()
    assert lines[0] == "x" * 1_000_000  # buffered output is flushed before the end
    assert sorted(lines[1:]) == ["finalized", "handler ran"]


def test_a_thread_still_running_is_waited_for() -> None:
    done = _python(
        "import sys, threading, time\n"
        "from indexer import interpreter\n"
        "def late():\n"
        "    time.sleep(0.3)\n"
        "    print('thread finished', flush=True)\n"
        "def command():\n"
        "    threading.Thread(target=late).start()\n"
        "    sys.exit(0)\n"
        "interpreter.run_and_exit(command)\n"
    )
    assert done.returncode == 0 and done.stdout == "thread finished\n"


def test_output_a_closed_pipe_refuses_gives_the_status_pythons_own_exit_gives() -> None:
    command = "import sys\ndef command():\n    sys.stdout.write('x' * 100)\n"
    statuses = []
    for ending in (
        "command()",
        "from indexer import interpreter; interpreter.run_and_exit(command)",
    ):
        read, write = os.pipe()
        os.close(read)  # the reader has gone, as `| head` does after its lines
        done = subprocess.run(
            [sys.executable, "-c", command + ending],
            stdout=write,
            stderr=subprocess.PIPE,
            env=_buffered(),
            timeout=60,
        )
        os.close(write)
        statuses.append(done.returncode)
    assert statuses == [120, 120]


def test_a_message_exit_prints_it_and_is_status_1() -> None:
    done = _python(
        "import sys\n"
        "from indexer import interpreter\n"
        "interpreter.run_and_exit(lambda: sys.exit('stopped: no store'))\n"
    )
    assert done.returncode == 1 and done.stderr == "stopped: no store\n"


def test_the_installed_command_keeps_its_exit_codes_and_output(tmp_path: Path) -> None:
    command = Path(sys.executable).parent / "commit-indexer"
    missing = subprocess.run(
        [command, "stats", "--repo", tmp_path / "nowhere"], capture_output=True, text=True
    )
    assert missing.returncode == 2 and missing.stderr.startswith("error: ")
    repo = make_repo(tmp_path)
    repo.commit({"src/lib.rs": "pub struct Opts;\n"}, "Add opts")
    synced = subprocess.run(
        [command, "backfill", "--repo", repo.path], capture_output=True, text=True
    )
    assert synced.returncode == 0
    found = subprocess.run(
        [command, "symbols", "Opts", "--repo", repo.path], capture_output=True, text=True
    )
    assert found.returncode == 0 and "pub struct Opts;" in found.stdout
