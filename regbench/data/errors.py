"""Missing real data: one clear line, and where regbench looks for data on disk.

docs/architecture.md, Data and shifts: missing data gives one line naming what is missing, where it was looked
for, and exactly how to get it. Loaders raise :class:`DatasetMissingError`; the CLI prints
its message without a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

from regbench.registry import UserError

# Where real data lives when neither the suite nor $REGBENCH_DATA names a root: under the cache
# ($REGBENCH_CACHE/data when that is set to a folder, else this)
DEFAULT_DATA_ROOT = "~/.cache/regbench/data"
DATA_ROOT_ENV = "REGBENCH_DATA"
CACHE_ENV = "REGBENCH_CACHE"


class DatasetMissingError(UserError):
    """A real dataset is not on disk; the message is one line saying how to get it."""

    def __init__(
        self,
        dataset: str,
        searched: str | Path | list[str | Path],
        how: str | None = None,
        problem: str = "not found",
    ):
        paths = searched if isinstance(searched, list) else [searched]
        self.dataset, self.searched = dataset, [str(p) for p in paths]
        how = how or download_hint(dataset)
        where = " or ".join(self.searched)
        message = f"dataset '{dataset}' {problem} at {where}; to get it, {how}"
        super().__init__(" ".join(message.split()))  # one line, whatever the parts held


class DownloadError(UserError):
    """A download failed (no network, server down); the message names the URL and the manual way."""

    def __init__(self, message: str):
        super().__init__(" ".join(message.split()))  # one line, whatever the library's error held


def download_hint(dataset: str, root: str | Path | None = None) -> str:
    """The exact command that fetches ``dataset`` (run where there is internet)."""
    return (
        f"run `regbench data download {dataset} --root {root or 'DIR'}` on a machine with internet "
        f"(or set ${DATA_ROOT_ENV} to the folder that holds it)"
    )


def data_root(root: str | Path | None = None) -> Path:
    """The data root: ``root`` if given, else ``$REGBENCH_DATA``, else ``$REGBENCH_CACHE/data``
    (when the cache is a folder, not ``off``), else ``DEFAULT_DATA_ROOT``."""
    if root is not None:
        return Path(root).expanduser()
    if os.environ.get(DATA_ROOT_ENV):
        return Path(os.environ[DATA_ROOT_ENV]).expanduser()
    cache = os.environ.get(CACHE_ENV)
    if cache and cache != "off":
        return Path(cache).expanduser() / "data"
    return Path(DEFAULT_DATA_ROOT).expanduser()
