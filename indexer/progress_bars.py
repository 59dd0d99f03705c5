"""The progress bars of `backfill` and `export` (rich): imported by those commands
only, so the others, and a backfill's parser workers, do without them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Column
from rich.text import Text

if TYPE_CHECKING:
    from indexer.index.sync import SyncProgress


class _RateColumn(ProgressColumn):
    """Commits/s and blobs/s since the start."""

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        if elapsed <= 0:
            return Text("")
        blobs = task.fields.get("blobs", 0)
        return Text(f"{task.completed / elapsed:,.0f}/s {blobs / elapsed:,.0f} blobs/s")


class SyncBar:
    """A rich progress bar that appears with the first commit written, so a sync with
    nothing to do, or one that fails before it starts, prints no empty bar."""

    # The bar takes the width the others leave: a line fits 80 columns, rather than
    # wrapping its last words.
    columns = (
        TextColumn("indexing"),
        BarColumn(bar_width=None),
        MofNCompleteColumn(),
        TextColumn("commits"),
        # never squeezed: the bar gives way (up to `99,999/s 99,999 blobs/s`)
        _RateColumn(table_column=Column(no_wrap=True, min_width=24)),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress: Progress | None = None
        self.task = None

    def update(self, p: SyncProgress) -> None:
        if self.progress is None:
            self.progress = Progress(*self.columns, console=self.console, expand=True)
            self.progress.start()
            self.task = self.progress.add_task("sync", total=p.total, blobs=0)
        self.progress.update(self.task, completed=p.done, total=p.total, blobs=p.blobs)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


@contextmanager
def export_bar(console: Console, doing: str = "exporting") -> Iterator[Callable[[int, int], None]]:
    """The bar of `export` (and `report`): commits done, of a total it learns as it
    goes; what it yields takes (done, total)."""
    progress = Progress(
        TextColumn(doing),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("commits"),
        TimeElapsedColumn(),
        console=console,
    )
    with progress:
        task = progress.add_task(doing, total=None)
        yield lambda done, total: progress.update(task, completed=done, total=total)
