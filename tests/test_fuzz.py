"""A seeded generator of awkward setups: repo paths, file names, commit messages and
--db values. Whatever it makes, no command shows a traceback or an internal error, no
file is written outside the repo's git dir and the export folder, and no planted
secret reaches an export."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from gitrepo import cli, make_repo
from planted import PLANTED, TYPED

from indexer.store.location import sqlite_path, sqlite_url

# What a folder or file name may hold here: letters of other scripts, shell and URL
# metacharacters, rich markup, escapes (a name cannot hold "/" or NUL).
PIECES = [
    "é", "ß", "漢字", "🦀", " ", "'", '"', "$", ";", "#", "?", "%41", "%", "&", "=", "@",
    ":", "[bold]", "[b", "~", "!", "*", "\\", "\x1b[2J", "(", ")", "{", "}", "-", "_", ".",
]  # fmt: skip
MESSAGES = [
    "fix [bold red]the[/bold red] thing :crab:",
    "clear \x1b[2J and copy \x1b]52;c;ZWNobw==\x07",
    "Signed-off-by: A <a.person@example.net>",
    "\u202eevil",
    "   \n\ttabs and blank lines\n\n",
]
SECRETS = [v for k, v in PLANTED.items() if k != "e-mail in a trailer"]


def _name(rng: random.Random, length: int) -> str:
    name = "".join(rng.choice(PIECES) for _ in range(length)).strip(" .") or "x"
    return name if name not in (".", "..") else "x"


def _db_values(rng: random.Random, base: Path) -> list[str | None]:
    return [
        None,
        sqlite_url(base / _name(rng, 3) / "store.db"),  # a URL quotes its path
        "sqlite:///relative.db",
        "sqlite:///:memory:",
        "sqlite://",
        "not a url",
        "mysql://u:pw@localhost/db",
        "postgresql://u:pw@127.0.0.1:1/db",
        sqlite_url(base / "plain.txt"),
    ]


def _tree(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


@pytest.mark.parametrize("seed", range(6))
def test_awkward_setups_never_crash_leak_or_write_elsewhere(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    base = tmp_path / _name(rng, 4)
    base.mkdir()
    (base / "plain.txt").write_text("somebody's file\n")
    repo = make_repo(base, _name(rng, 3))
    files = {"src/lib.rs": "pub mod typed;\n", "src/typed.rs": TYPED}
    for _ in range(3):
        files[f"src/{_name(rng, 3)}.rs"] = f"pub fn f{rng.randrange(1000)}() -> u8 {{ 1 }}\n"
    repo.commit(files, rng.choice(MESSAGES))
    secret = rng.choice(SECRETS)
    files["src/typed.rs"] = TYPED.replace("roster", "roster2")
    repo.commit(files, f"{rng.choice(MESSAGES)}\n\nexport API_TOKEN={secret}\n")
    out = base / _name(rng, 2)
    cwd_before, home = sorted(os.listdir()), Path(os.environ["HOME"])
    home_before = _tree(home)
    for db in _db_values(rng, base):
        before = _tree(tmp_path)
        flags = ["--repo", str(repo.path)] + (["--db", db] if db else [])
        for args in (["backfill"], ["stats"], ["export", str(out)], ["show", "HEAD"]):
            result = cli(*args, *flags)
            assert result.exit_code in (0, 2), (args, db, result.output)
            assert "Traceback" not in result.output and "internal error" not in result.output
            assert "\x1b" not in result.output, (args, db, result.output)
        allowed = [repo.path / ".git", out]
        store = sqlite_path(db) if db else None
        if store is not None and store.is_absolute():
            allowed.append(store.parent)
        new = _tree(tmp_path) - before
        outside = [p for p in new if not any(p == a or a in p.parents for a in allowed)]
        assert not outside, (db, outside)
        if out.exists():
            text = "\n".join(p.read_text(errors="replace") for p in out.glob("*.jsonl"))
            assert not [s for s in SECRETS if s in text], db
    assert (base / "plain.txt").read_text() == "somebody's file\n"
    assert sorted(os.listdir()) == cwd_before and _tree(home) == home_before
