"""A rich progress bar with ETA, ok/failed counts and the names of the runs in flight.

The counter, the ETA and the counts always show; the run names take whatever width is
left and are cut with "…" first (an 80-column terminal shows them all but the names).
"""

from __future__ import annotations


def progress_columns():
    """The bar's columns: fixed-width facts first, the names last in the leftover width."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
    from rich.table import Column

    return (
        TextColumn("[bold]runs"),
        BarColumn(bar_width=16),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[counts]}"),
        TextColumn("{task.description}", table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis")),
    )


def counts_text(counts: dict[str, int]) -> str:
    """'[green]3 ok[/] [red]1 failed[/]' (diverged and collapsed only when there is one)."""
    text = f"[green]{counts.get('ok', 0)} ok[/] [red]{counts.get('failed', 0)} failed[/]"
    for status in ("diverged", "collapsed"):
        if counts.get(status):
            text += f" [yellow]{counts[status]} {status}[/]"
    return text


class RunProgress:
    """Context manager around rich's Progress; a no-op when disabled or not a terminal."""

    def __init__(self, total: int, enabled: bool = True, console=None):
        self.total, self.enabled, self.console = total, enabled, console
        self.running: list[str] = []
        self.counts = {"ok": 0, "failed": 0, "diverged": 0, "collapsed": 0}

    def __enter__(self):
        if self.enabled:
            from rich.progress import Progress

            self.progress = Progress(*progress_columns(), console=self.console, expand=True)
            self.progress.__enter__()
            self.task = self.progress.add_task("", total=self.total, counts=counts_text(self.counts))
        return self

    def _refresh(self) -> None:
        if self.enabled:
            self.progress.update(self.task, description=", ".join(self.running[-2:]), counts=counts_text(self.counts))

    def started(self, name: str) -> None:
        self.running.append(name)
        self._refresh()

    def finished(self, name: str, status: str) -> None:
        if name in self.running:
            self.running.remove(name)
        self.counts[status] = self.counts.get(status, 0) + 1
        if self.enabled:
            self.progress.advance(self.task)
        self._refresh()

    def __exit__(self, *exc):
        if self.enabled:
            self.progress.__exit__(*exc)
