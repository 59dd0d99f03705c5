"""`commit-indexer report`: one self-contained HTML page about a repo's data, to look
at rather than read: commits and exported examples over time, token lengths of
context and target against the budget, the curation funnel, how much context was
found (names resolved, and why the others were not), the most-changed items and
files, and what made no example, by reason.

The plots are inline SVG drawn here: no script, no font or file fetched at view time
(the page's Content-Security-Policy forbids it), nothing of the repo's text read as
markup. The records are the default export's (`snapshot.snapshot_records`: curated,
split, deduplicated, fitted to the budget), so the page shows what a trainer gets; the
same store gives the same page, byte for byte.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from indexer import git
from indexer.dataset.budget import IGNORE
from indexer.dataset.snapshot import snapshot_records
from indexer.store import Target, translate_errors
from indexer.store.commits import stats as store_stats

WIDTH = 760  # of every plot, in px
BAR = 18  # a bar's height in a bar chart
TOP = 15  # items and files shown


def build_report(
    target: Target,
    at: str = "HEAD",
    max_tokens: int = 2048,
    on_progress: Callable[[int, int], None] | None = None,
) -> str:
    """The page for the commits reachable from `at`."""
    commit = git.resolve_commit(target.repo, at)
    commits, _unreadable = git.walk(target.repo, [str(commit.id)], ())
    months: Counter[str] = Counter(_month(target.repo[oid].commit_time) for oid in commits)
    examples: Counter[str] = Counter()
    contexts, targets = [], []
    items: Counter[str] = Counter()
    files: Counter[str] = Counter()
    with snapshot_records(target, at, max_tokens=max_tokens, on_progress=on_progress) as snap:
        for record in snap.records:
            examples[_month(record["date"])] += 1
            learnt = sum(1 for label in record["labels"] if label != IGNORE)
            targets.append(learnt)
            contexts.append(record["n_tokens"] - learnt)
            items[f"{record['path']}: {record['qualname']}"] += 1
            files[record["path"]] += 1
        manifest = snap.manifest_extra()
    with translate_errors(target.store.url), target.store.connect() as conn:
        s = store_stats(conn, target.repo_id)
    funnel = manifest["funnel"]
    left_out = [(reason, n) for reason, n in funnel["left_out"].items() if n]
    exported = sum(funnel["exported"].values())
    sections = [
        (
            "Commits and examples over time",
            f"{len(commits)} commits reachable from {at}; {exported} examples exported,"
            " by the month of their commit.",
            _columns(sorted(months | examples), {"commits": months, "examples": examples}),
        ),
        (
            "Token lengths",
            f"Per exported example, against the budget of {max_tokens} tokens: the context"
            " (shortened or dropped to fit) and the target (never cut).",
            _histogram("context tokens", contexts, max_tokens)
            + _histogram("target tokens", targets, max_tokens),
        ),
        (
            "Curation funnel",
            f"{funnel['examples']} examples stored for {funnel['commits']} commits; what the"
            " default export leaves out, in the order it does, and what it keeps.",
            _bars([*left_out, ("exported", exported)], highlight="exported"),
        ),
        (
            "Context coverage",
            f"Names the stored examples use: {s.resolved} resolved to a definition in another"
            " file of the repo, and the others by why they were not.",
            _bars([("resolved", s.resolved), *s.unresolved.items()], highlight="resolved"),
        ),
        (
            "Most-changed items",
            "Exported examples per item.",
            _bars(items.most_common(TOP)),
        ),
        (
            "Most-changed files",
            "Exported examples per file.",
            _bars(files.most_common(TOP)),
        ),
        (
            "Skips",
            "Changes that made no example, and files never parsed, by reason.",
            _bars([*s.example_skips.items(), *s.skips_by_reason.items()]),
        ),
    ]
    return _page(f"{manifest['repo']}: commit-indexer report", commit.id, sections)


def _month(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m")


# C0 and C1 controls but tab and newline, and bidi overrides: not in the page.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _text(value: object) -> str:
    """Repo text as text: escaped, controls replaced."""
    return html.escape(_CONTROLS.sub("\ufffd", str(value)), quote=True)


def _page(title: str, commit: object, sections: list[tuple[str, str, str]]) -> str:
    body = "".join(
        f"<section><h2>{_text(name)}</h2><p>{_text(about)}</p>{plot or '<p>none</p>'}</section>"
        for name, about, plot in sections
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        # nothing is fetched or run: the page is all there is
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';'
        " style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{_text(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{_text(title)}</h1><p>at commit <code>{_text(commit)}</code></p>{body}"
        "</body></html>\n"
    )


_STYLE = (
    "body{font:14px system-ui,sans-serif;margin:2em auto;max-width:800px;color:#222}"
    "h2{margin-top:2em;font-size:18px}svg{display:block;margin:.5em 0}"
    "text{font:12px system-ui,sans-serif;fill:#222}.bar{fill:#4c78a8}.hl{fill:#f58518}"
    ".s1{fill:#f58518}.mark{stroke:#e45756;stroke-width:2;stroke-dasharray:4 3}"
)


def _svg(height: int, inner: str, label: str) -> str:
    return (
        f'<svg class="plot" role="img" aria-label="{_text(label)}" width="{WIDTH}"'
        f' height="{height}" viewBox="0 0 {WIDTH} {height}"'
        f' xmlns="http://www.w3.org/2000/svg">{inner}</svg>'
    )


def _bars(rows: Sequence[tuple[str, int]], highlight: str | None = None) -> str:
    """A horizontal bar per (label, value), the value written after it."""
    if not rows:
        return ""
    top = max(value for _label, value in rows) or 1
    left, right = 300, 70
    span = WIDTH - left - right
    parts = []
    for i, (label, value) in enumerate(rows):
        y = 4 + i * (BAR + 6)
        w = max(1, round(span * value / top)) if value else 0
        cls = "hl" if label == highlight else "bar"
        shown = label if len(label) <= 48 else "…" + label[-47:]
        parts.append(
            f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{_text(shown)}</text>'
            f'<rect class="{cls}" x="{left}" y="{y}" width="{w}" height="{BAR}">'
            f"<title>{_text(label)}: {value}</title></rect>"
            f'<text x="{left + w + 4}" y="{y + 13}">{value}</text>'
        )
    return _svg(8 + len(rows) * (BAR + 6), "".join(parts), "bar chart")


def _columns(labels: Sequence[str], series: dict[str, Counter[str]]) -> str:
    """Grouped columns per label (a month), one colour per series, with a legend."""
    if not labels:
        return ""
    top = max((c[label] for c in series.values() for label in labels), default=0) or 1
    height, base, left = 220, 180, 40
    step = min(60.0, (WIDTH - left - 10) / len(labels))
    width = max(1.0, step / (len(series) + 1))
    parts = [f'<text x="{left}" y="12">max {top}</text>']
    for k, (name, counts) in enumerate(series.items()):
        parts.append(
            f'<rect class="{"bar" if k == 0 else "s1"}" x="{left + 120 * k + 60}" y="2"'
            f' width="10" height="10"></rect><text x="{left + 120 * k + 74}" y="12">'
            f"{_text(name)}</text>"
        )
        for i, label in enumerate(labels):
            h = round((base - 20) * counts[label] / top)
            x = left + i * step + k * width
            parts.append(
                f'<rect class="{"bar" if k == 0 else "s1"}" x="{x:.1f}" y="{base - h}"'
                f' width="{width:.1f}" height="{h}"><title>{_text(label)} {_text(name)}:'
                f" {counts[label]}</title></rect>"
            )
    every = max(1, len(labels) // 8)  # a tick label every few months
    for i, label in enumerate(labels):
        if i % every == 0:
            x = left + i * step
            parts.append(f'<text x="{x:.1f}" y="{base + 16}">{_text(label)}</text>')
    return _svg(height, "".join(parts), "columns over time")


def _histogram(name: str, values: Sequence[int], budget: int, bins: int = 32) -> str:
    """How many values fall in each of `bins` equal ranges of 0..budget, the budget
    marked."""
    if not values:
        return ""
    counts = Counter(min(bins - 1, v * bins // budget) for v in values)
    top = max(counts.values())
    height, base, left = 170, 140, 40
    step = (WIDTH - left - 40) / bins
    parts = [f'<text x="{left}" y="12">{_text(name)} (max {top} in a bin)</text>']
    for b in range(bins):
        h = round((base - 24) * counts[b] / top)
        lo, hi = b * budget // bins, (b + 1) * budget // bins
        parts.append(
            f'<rect class="bar" x="{left + b * step:.1f}" y="{base - h}" width="{step - 1:.1f}"'
            f' height="{h}"><title>{lo}-{hi}: {counts[b]}</title></rect>'
        )
    end = left + bins * step
    parts.append(f'<line class="mark" x1="{end:.1f}" y1="20" x2="{end:.1f}" y2="{base}"></line>')
    parts.append(f'<text x="{left}" y="{base + 16}">0</text>')
    parts.append(f'<text x="{end:.1f}" y="{base + 16}" text-anchor="end">{budget} (budget)</text>')
    return _svg(height, "".join(parts), f"histogram of {name}")
