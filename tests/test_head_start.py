"""A backfill into a new SQLite store starts its parser pool, parsing the history, before
it imports SQLAlchemy; its workers build examples from the store without it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gitrepo import Repo, backfill, db_url, dump_store

from indexer.index import head_start

PROBE = """
import sys
from indexer import git
from indexer.index.parsing import ParserPool
from indexer.index.symbols import WorkerStore, build_in_worker

repo = git.open_repo(sys.argv[1])
pool = ParserPool(repo.path, 1, 1_000_000)
commit = repo.revparse_single("HEAD")
run = [(git.commit_info(repo, commit), git.changed_files(repo, commit))]
store = WorkerStore("sqlite:///" + sys.argv[2], sys.argv[2])
built = pool.call(build_in_worker, store, repo.path, run, "redact", []).result()
in_worker = pool.call(eval, "'sqlalchemy' in __import__('sys').modules").result()
pool.close()
print(len(built[0].examples), in_worker, "sqlalchemy" in sys.modules)
"""


def _history(repo: Repo, commits: int = 12) -> None:
    for n in range(commits):
        repo.commit(
            {
                "src/lib.rs": "pub mod shapes;\n"
                + "".join(f"pub fn f{i}() {{}}\n" for i in range(n)),
                "src/shapes.rs": f"pub struct Square {{ pub side: u{8 << (n % 3)} }}\n",
            },
            f"change {n}",
        )


def test_a_worker_builds_examples_from_sqlite_without_sqlalchemy(repo: Repo) -> None:
    _history(repo)
    backfill(repo)
    store = db_url(repo).removeprefix("sqlite:///")
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, str(repo.path), store],
        capture_output=True,
        text=True,
        check=True,
    )
    examples, in_worker, here = probe.stdout.split()
    assert int(examples) > 0
    assert (in_worker, here) == ("False", "False")


def test_only_a_new_sqlite_store_gets_a_head_start(repo: Repo, tmp_path: Path) -> None:
    _history(repo)
    new = f"sqlite:///{tmp_path / 'new.db'}"
    pool = head_start.start(str(repo.path), new, False, 2, 1_000_000)
    assert pool is not None
    pool.close()
    assert head_start.start(str(repo.path), new, False, 1, 1_000_000) is None  # one core
    assert head_start.start(str(repo.path), "postgresql+psycopg://h/db", False, 2, 1) is None
    assert head_start.start(str(tmp_path / "not-a-repo"), None, False, 2, 1) is None
    backfill(repo)  # the default store now exists
    assert head_start.start(str(repo.path), None, False, 2, 1_000_000) is None


def test_a_head_started_backfill_stores_what_one_process_does(repo: Repo, tmp_path: Path) -> None:
    _history(repo, 80)
    dumps = []
    for workers in ("1", "2"):
        url = f"sqlite:///{tmp_path / f'workers-{workers}.db'}"
        backfill(repo, "--db", url, "--workers", workers)
        dumps.append(dump_store(url))
    assert dumps[0] == dumps[1]
