"""Our hooks beside the real pre-commit, husky and lefthook, installed and uninstalled in
every order: each hook runs once per commit, and no commit hangs. Every git command
here runs bounded (tests/bounded.py): a hook that runs itself would fork without end."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from bounded import Sandbox, hook_managers, make_sandbox, remove_sandbox, wait_unlocked

COUNT = 'echo {name} >> "$(git rev-parse --git-common-dir)/ran-{name}"'
CONFIGS = {
    "pre-commit": {
        ".pre-commit-config.yaml": (
            "repos:\n- repo: local\n  hooks:\n  - id: count\n    name: count\n"
            f"    entry: sh -c '{COUNT.format(name='pre-commit')}'\n"
            "    language: system\n    stages: [post-commit]\n"
            "    always_run: true\n    pass_filenames: false\n"
        ),
    },
    "husky": {".husky/post-commit": COUNT.format(name="husky") + "\n"},
    "lefthook": {
        "lefthook.yml": "post-commit:\n  commands:\n    count:\n"
        f"      run: {COUNT.format(name='lefthook')}\n"
    },
}


@pytest.fixture(scope="module")
def managers() -> dict[str, Path]:
    return hook_managers()


@pytest.fixture
def sandbox(tmp_path: Path, managers: dict[str, Path]) -> Iterator[Sandbox]:
    box = make_sandbox(tmp_path, [managers["husky"].parent])
    yield box
    remove_sandbox(box)


def _install_theirs(box: Sandbox, manager: str, tools: dict[str, Path]) -> None:
    if manager == "pre-commit":
        box.run(tools["pre-commit"], "install", "-t", "post-commit")
    elif manager == "husky":
        box.run(tools["husky"])
    else:
        box.run(tools["lefthook"], "install")


def _uninstall_theirs(box: Sandbox, manager: str, tools: dict[str, Path]) -> None:
    if manager == "pre-commit":
        box.run(tools["pre-commit"], "uninstall", "-t", "post-commit")
    elif manager == "husky":  # husky 9 has no uninstall: its docs say unset the path
        box.git("config", "--unset", "core.hooksPath")
    else:
        box.run(tools["lefthook"], "uninstall")


def _ran(box: Sandbox) -> dict[str, int]:
    """How often each hook ran: the managers' counters, and ours from its log."""
    counts = {}
    for path in (box.path / ".git").glob("ran-*"):
        counts[path.name[4:]] = len(path.read_text().splitlines())
    log = box.state / "hook.log"
    text = log.read_text() if log.exists() else ""
    counts["ours"] = len(re.findall(r"post-commit: indexed 1 commits", text))
    assert "error" not in text and "did not start" not in text, text
    return counts


def _commit(box: Sandbox, message: str) -> None:
    _clean(box.commit(message))
    wait_unlocked(box)


def _clean(out: str) -> None:
    """A commit's output shows no hook in trouble: a fork refused (a hook that runs
    itself hits the process bound), pre-commit's "bug", a shell error."""
    for sign in ("fork", "bug", "not found", "rror"):
        assert sign not in out, out


@pytest.mark.parametrize("uninstall_first", ["ours", "theirs"])
@pytest.mark.parametrize("install_first", ["ours", "theirs"])
@pytest.mark.parametrize("manager", ["pre-commit", "husky", "lefthook"])
def test_every_hook_runs_once_in_every_order(
    sandbox: Sandbox,
    managers: dict[str, Path],
    manager: str,
    install_first: str,
    uninstall_first: str,
) -> None:
    box = sandbox
    box.write(CONFIGS[manager])
    if manager == "pre-commit":  # a hook of the user's own, which pre-commit keeps running
        box.write({".git/hooks/post-commit": "#!/bin/sh\n" + COUNT.format(name="user") + "\n"})
    ours = ["commit-indexer", "hook", "install", "--repo", "."]
    if install_first == "ours":
        box.run(*ours)
        _install_theirs(box, manager, managers)
        status = box.run("commit-indexer", "hook", "status", "--repo", ".")
        if manager == "pre-commit":
            assert "post-commit    installed, run by pre-commit's hook" in status, status
        else:
            # husky points core.hooksPath elsewhere; lefthook moves ours to `.old` and
            # never runs it: status says so, and installing again chains theirs.
            assert "post-commit    not installed" in status and "install` again" in status, status
            box.run(*ours)
    else:
        _install_theirs(box, manager, managers)
        box.run(*ours)
    expected = {manager: 2, "ours": 2} | ({"user": 2} if manager == "pre-commit" else {})
    _commit(box, "one")
    _commit(box, "two")
    assert _ran(box) == expected

    if uninstall_first == "ours":
        box.run("commit-indexer", "hook", "uninstall", "--repo", ".")
        _commit(box, "three")
        expected = {k: v + (k != "ours") for k, v in expected.items()}
        assert _ran(box) == expected
        _uninstall_theirs(box, manager, managers)
    else:
        _uninstall_theirs(box, manager, managers)
        if manager == "husky":  # ours lived in husky's folder, which git no longer runs
            box.run(*ours)
        _commit(box, "three")
        expected = {k: v + (k in ("ours", "user")) for k, v in expected.items()}
        assert _ran(box) == expected
        box.run("commit-indexer", "hook", "uninstall", "--repo", ".")
    _commit(box, "four")
    expected = {k: v + (k == "user") for k, v in expected.items()}
    assert _ran(box) == expected
    leftovers = [p.name for p in (box.path / ".git" / "hooks").glob("post-commit*")]
    assert leftovers == (["post-commit"] if manager == "pre-commit" else []), leftovers


@pytest.mark.parametrize("install_first", ["ours", "theirs"])
def test_pre_commit_and_ours_alone_never_recurse(
    sandbox: Sandbox, managers: dict[str, Path], install_first: str
) -> None:
    # The case that forked without end: pre-commit moved ours to `.legacy`, and ours ran
    # `.legacy`, itself. The other order printed pre-commit's "migration mode" bug.
    box = sandbox
    box.write(CONFIGS["pre-commit"])
    steps = [
        lambda: box.run("commit-indexer", "hook", "install", "--repo", "."),
        lambda: _install_theirs(box, "pre-commit", managers),
    ]
    for step in steps if install_first == "ours" else steps[::-1]:
        step()
    _commit(box, "one")
    assert _ran(box) == {"pre-commit": 1, "ours": 1}


def _our_pre_commit_hook() -> dict:
    """Our hook as .pre-commit-hooks.yaml defines it, as a `local` one: pre-commit runs
    the same entry at the same stages, with the commit-indexer on PATH (a remote repo
    would have pre-commit build it a virtualenv from the package index)."""
    import yaml

    manifest = Path(__file__).parents[1] / ".pre-commit-hooks.yaml"
    (hook,) = yaml.safe_load(manifest.read_text())
    return {**hook, "language": "system"}


def _log_lines(box: Sandbox) -> list[str]:
    log = box.state / "hook.log"
    return log.read_text().splitlines() if log.exists() else []


def test_pre_commit_drives_our_hook_at_its_stages(
    sandbox: Sandbox, managers: dict[str, Path]
) -> None:
    """The real pre-commit runs our `commit-indexer` hook at post-commit, post-merge
    and post-rewrite, every commit is indexed, and `hook status` says who runs it."""
    import json

    import yaml

    box = sandbox
    hook = _our_pre_commit_hook()
    assert hook["stages"] == ["post-commit", "post-merge", "post-rewrite"]
    config = {"repos": [{"repo": "local", "hooks": [hook]}]}
    box.write({".pre-commit-config.yaml": yaml.safe_dump(config)})
    status = box.run("commit-indexer", "hook", "status", "--repo", ".")
    assert "pre-commit install -t post-merge" in status, status  # configured, not installed
    for stage in hook["stages"]:
        box.run(managers["pre-commit"], "install", "-t", stage)
    status = box.run("commit-indexer", "hook", "status", "--repo", ".")
    for stage in hook["stages"]:
        assert f"{stage:<14} run by pre-commit (commit-indexer in" in status, status
    assert "post-checkout  not installed" in status and "twice" not in status, status

    _commit(box, "one")
    box.git("checkout", "-q", "-b", "side")
    _commit(box, "two")
    box.git("checkout", "-q", "main")
    box.write({"src/main.rs": "fn main() {}\n"})
    box.git("add", "-A")
    box.git("commit", "-q", "-m", "three")
    wait_unlocked(box)
    merged = box.git("merge", "-q", "--no-ff", "-m", "merge side", "side")
    wait_unlocked(box)
    amended = box.git("commit", "-q", "--amend", "-m", "merge side, amended")
    wait_unlocked(box)
    ran = "commit-indexer (capture commits as training data)"
    for out, times in ((merged, 1), (amended, 2)):  # the amend: post-commit, post-rewrite
        _clean(out)
        assert out.count(ran) == times and "Passed" in out, out
    logged = [line.split(" ", 1)[1] for line in _log_lines(box)]
    # a hook that finds a sync running leaves its work to it (`sync.pending`): the
    # amend's post-rewrite sync may be logged as its post-commit's
    assert "post-merge: indexed 1 commits" in logged, logged
    assert sum(int(line.split()[2]) for line in logged) == 5, logged
    assert not any("error" in line for line in logged), logged
    stats = json.loads(box.run("commit-indexer", "stats", "--json", "--repo", "."))
    # the four commits reachable, and the merge the amend replaced (until `gc`)
    assert stats["behind"] == 0 and stats["commits"] == 5, stats
