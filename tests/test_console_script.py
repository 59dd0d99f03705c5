"""The installed console script: its exit codes and output are the command's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gitrepo import make_repo


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


def test_help_version_and_a_wrong_option_end_as_they_should(tmp_path: Path) -> None:
    command = Path(sys.executable).parent / "commit-indexer"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([command, *args], capture_output=True, text=True, cwd=tmp_path)

    for args in (["--help"], ["-h"], ["stats", "--help"], ["export", "-h"], ["hook", "-h"]):
        shown = run(*args)
        assert shown.returncode == 0, (args, shown.stderr)
        assert "Usage" in shown.stdout and "internal error" not in shown.stderr
    # what the help texts say in brackets is shown, not read as markup
    helped = " ".join(run("backfill", "--help").stdout.split())
    assert "[default: SQLite in the git dir]" in helped and "[default: cores]" in helped
    assert "[default: a new temp dir]" in " ".join(run("demo", "-h").stdout.split())
    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("commit-indexer 0.")
    wrong = run("stats", "--bogus")
    assert wrong.returncode == 2 and "error: No such option" in wrong.stderr
    assert "internal error" not in wrong.stderr


def test_options_of_a_few_words_are_choices_checked_before_any_work(tmp_path: Path) -> None:
    """A wrong word is a usage error with `error:` and `hint:` lines, before a store is
    made; the choices are listed in the help and are the modules' own lists."""
    from typing import get_args

    from indexer import cli, secrets
    from indexer.dataset import curate, dedup, export, splits
    from indexer.dataset.budget import TEMPLATES
    from indexer.dataset.snapshot import CONTEXT_MODES, MESSAGE_MODES, TARGETS, UNITS

    assert get_args(cli.Format) == tuple(export.FORMATS)
    assert get_args(cli.TemplateName) == tuple(TEMPLATES)
    assert get_args(cli.SplitRule) == splits.RULES
    assert get_args(cli.DedupMode) == dedup.MODES
    assert get_args(cli.SecretsMode) == secrets.MODES
    assert get_args(cli.ContextMode) == tuple(CONTEXT_MODES)
    assert get_args(cli.MessageMode) == tuple(MESSAGE_MODES)
    assert get_args(cli.TargetKind) == TARGETS
    assert get_args(cli.UnitKind) == UNITS
    assert tuple(f.value for f in cli.Filter) == curate.FILTERS

    command = Path(sys.executable).parent / "commit-indexer"
    repo = make_repo(tmp_path)
    repo.commit({"src/lib.rs": "pub struct Opts;\n"}, "Add opts")
    for args, word in (
        (["export", tmp_path / "out", "--format", "csv"], "'csv' is not one of 'jsonl'"),
        (["export", tmp_path / "out", "--template", "llama"], "'llama' is not one of"),
        (["export", tmp_path / "out", "--split", "random"], "'random' is not one of"),
        (["export", tmp_path / "out", "--keep", "bots"], "'bots' is not one of 'bot'"),
        (["backfill", "--secrets", "hide"], "'hide' is not one of 'redact', 'drop'"),
        (["stats", "--bogus"], "No such option: --bogus"),
    ):
        done = subprocess.run([command, *args, "--repo", repo.path], capture_output=True, text=True)
        lines = done.stderr.splitlines()
        assert done.returncode == 2, (args, done.stderr)
        assert lines[0].startswith("error: ") and word in lines[0], done.stderr
        assert lines[1].startswith("hint: `commit-indexer ") and len(lines) == 2, done.stderr
    assert not (repo.path / ".git" / "commit-indexer").exists()  # nothing was begun
    shown = subprocess.run([command, "export", "-h"], capture_output=True, text=True).stdout
    assert "--format <jsonl|parquet|pt>" in shown and "--split <lineage|commit|time|repo>" in shown


def test_json_for_scripts(tmp_path: Path) -> None:
    """`--json` prints one JSON document with what the table shows; the repo's text
    reaches it whole, escaped (no control character reaches the terminal)."""
    import json

    command = Path(sys.executable).parent / "commit-indexer"
    repo = make_repo(tmp_path)
    repo.commit({"src/lib.rs": "pub struct Opts;\n"}, "Add opts")
    odd = 'pub fn run(o: Opts) -> &\'static str {\n    "\\u{1b} é \x9b"\n}\n'
    repo.commit({"src/run.rs": "use crate::Opts;\n\n" + odd}, "Run \x1b[31mred\x1b[0m")

    def run(*args: str, code: int = 0) -> object:
        done = subprocess.run(
            [command, *args, "--json", "--repo", repo.path], capture_output=True, text=True
        )
        assert done.returncode == code, (args, done.stderr)
        assert "\x1b" not in done.stdout and "\x9b" not in done.stdout
        return json.loads(done.stdout) if done.stdout else None

    assert run("backfill", code=2) is None  # it has no --json: a usage error, nothing done
    subprocess.run([command, "backfill", "--repo", repo.path], check=True, capture_output=True)
    stats = run("stats")
    assert stats["commits"] == 2 and stats["behind"] == 0 and stats["items_by_kind"]["fn"] == 1
    assert stats["funnel"]["examples"] >= 1
    found = run("symbols", "Opts")
    assert found == [
        {
            "path": "src/lib.rs",
            "kind": "struct",
            "qualname": "Opts",
            "start_line": 1,
            "end_line": 1,
            "code": "pub struct Opts;",
        }
    ]
    assert run("symbols", "Nowhere", code=1) is None  # not found: exit 1, as grep does
    shown = run("show", "HEAD")
    (example,) = [e for e in shown["examples"] if e["qualname"] == "run"]
    assert example["target"] == odd.rstrip("\n") and "Opts -> src/lib.rs::Opts" in str(
        example["resolved"]
    )
    assert {s["kind"] for s in example["segments"]} >= {"path", "msg", "imports"}
    status = run("hook", "status")
    assert status["behind"] == 0 and {h["hook_type"] for h in status["hooks"]} >= {"post-commit"}
    assert not any(h["installed"] for h in status["hooks"])
    doctor = run("doctor")
    assert doctor["problems"] == 0 and {f["level"] for f in doctor["findings"]} <= {"ok", "note"}


def test_the_shell_completes_the_choices() -> None:
    """The choices complete in the shell (bash's protocol, as `--install-completion`
    sets it up)."""
    command = Path(sys.executable).parent / "commit-indexer"

    def complete(line: str) -> list[str]:
        env = {
            "PATH": str(command.parent),
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(line.split()) - (0 if line.endswith(" ") else 1)),
            "_COMMIT_INDEXER_COMPLETE": "complete_bash",
        }
        done = subprocess.run([command], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert complete("commit-indexer export x --format ") == ["jsonl", "parquet", "pt"]
    assert complete("commit-indexer export x --template p") == ["plain"]
    assert complete("commit-indexer export x --keep f") == ["fixup", "formatting"]
    assert "--shard-size" in complete("commit-indexer export x --sh")
