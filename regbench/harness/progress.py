"""A rich progress bar with ETA and the names of the runs in flight."""

from __future__ import annotations


class RunProgress:
    """Context manager around rich's Progress; a no-op when disabled or not a terminal."""

    def __init__(self, total: int, enabled: bool = True):
        self.total, self.enabled = total, enabled
        self.running: list[str] = []
        self.counts = {"ok": 0, "failed": 0, "diverged": 0}

    def __enter__(self):
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(
                TextColumn("[bold]runs"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.description}"),
            )
            self.progress.__enter__()
            self.task = self.progress.add_task("", total=self.total)
        return self

    def _refresh(self) -> None:
        if self.enabled:
            bad = f" [red]{self.counts['failed']} failed" if self.counts["failed"] else ""
            div = f" [yellow]{self.counts['diverged']} diverged" if self.counts["diverged"] else ""
            self.progress.update(self.task, description=", ".join(self.running[-2:]) + bad + div)

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
