"""`commit-indexer report`: one self-contained HTML page of plots, rendered by a real
headless Chromium (Debian's package) to a PNG and to its DOM."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from gitrepo import Repo, backfill, cli, make_repo
from test_splits import history

PLOTS = 8  # over time, two histograms, funnel, coverage, items, files, skips
# CI installs Chromium, and sets this so that its absence fails the test.
ENV_REQUIRED = "INDEXER_TEST_BROWSER"
ODD = "src/bin/x<img src=y onerror=alert(1)>.rs"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    repo = make_repo(tmp_path_factory.mktemp("report"))
    history(repo, items=10, versions=3)
    model = "pub struct Opts {\n    pub n: u32,\n}\n"
    use = "use crate::model::Opts;\n\npub fn twice(o: &Opts) -> u32 {\n    o.n * 2\n}\n"
    repo.commit({"src/model.rs": model, "src/twice.rs": use}, "Add twice")
    repo.commit({ODD: 'fn main() {\n    println!("odd");\n}\n'}, "An odd file name")
    repo.commit({"src/blob.rs": "\0\x01 not text"}, "A binary file")  # a skip
    backfill(repo)
    return repo


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        why = "no chromium (Debian: apt-get install chromium)"
        if os.environ.get(ENV_REQUIRED) == "required":
            pytest.fail(why)
        pytest.skip(why)
    return found


def test_the_page_is_self_contained_and_the_same_for_the_same_store(
    repo: Repo, tmp_path: Path
) -> None:
    first, second = tmp_path / "one.html", tmp_path / "two.html"
    for path in (first, second):
        result = cli("report", path, "--repo", repo.path)
        assert result.exit_code == 0, result.output
        assert f"({PLOTS} plots)" in result.output
    page = first.read_text(encoding="utf-8")
    assert page == second.read_text(encoding="utf-8")
    assert page.count('<svg class="plot"') == PLOTS
    assert "<script" not in page and 'http-equiv="Content-Security-Policy"' in page
    # the repo's text is text: the file name is escaped, never markup
    assert "<img" not in page and "x&lt;img src=y onerror=alert(1)&gt;.rs" in page
    for heading in ("Token lengths", "Curation funnel", "Context coverage", "Most-changed"):
        assert heading in page
    # the default place is the store's folder in the git dir
    assert cli("report", "--repo", repo.path).exit_code == 0
    assert (repo.path / ".git" / "commit-indexer" / "report.html").read_text() == page


def test_chromium_renders_every_plot_without_an_error(repo: Repo, tmp_path: Path) -> None:
    chromium = _chromium()
    page = tmp_path / "report.html"
    assert cli("report", page, "--repo", repo.path).exit_code == 0
    flags = [
        "--headless",
        "--no-sandbox",  # as root in a container
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",  # not the home folder
        "--enable-logging=stderr",
        "--v=0",
    ]
    png = tmp_path / "report.png"
    shot = subprocess.run(
        [chromium, *flags, f"--screenshot={png}", "--window-size=900,3200", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert png.exists() and png.stat().st_size > 20_000, shot.stderr[-2000:]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.stdout.count('<svg class="plot"') == PLOTS, dom.stderr[-2000:]
    assert dom.stdout.count("<rect") > 40  # the bars are drawn
    for log in (shot.stderr, dom.stderr):
        for sign in ("Uncaught", "Refused to", "CONSOLE", "ERR_FILE_NOT_FOUND"):
            assert sign not in log, log[-2000:]
