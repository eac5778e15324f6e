"""A store that cannot be used: the error it raises, and one line of advice for SQLite's errors.

A damaged, locked, read-only or foreign file is reported as a :class:`StoreError` with what to
do next (docs/architecture.md, Store): a damaged store points at SQLite's ``.recover``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from regbench.registry import UserError


class StoreError(UserError, RuntimeError):
    """The store file cannot be used (wrong schema, not a regbench store, damaged, unwritable)."""


def store_error(path: str | Path, err: BaseException) -> StoreError:
    """One line for an SQLite error from the store at ``path`` (pandas' wrapper included)."""
    cause = err.__cause__ if not isinstance(err, sqlite3.Error) and err.__cause__ is not None else err
    text = str(cause)
    if "file is not a database" in text:
        return StoreError(f"{path}: not a usable regbench store ({text})")
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return StoreError(f"{path}: the store is read-only here ({text}); pass another --store")
    if "disk is full" in text or getattr(cause, "sqlite_errorname", "") == "SQLITE_FULL":
        # SQLITE_FULL: the store is intact (SQLite rolls the write back); nothing to recover
        return StoreError(
            f"{path}: disk full: the store cannot grow ({text}); what is recorded is kept: "
            "free some space and run the same command again"
        )
    if "locked" in text or "busy" in text:
        return StoreError(f"{path}: the store stayed locked by another process for 60 s ({text}); try again")
    return StoreError(
        f"{path}: the store is damaged ({text}); recover what is readable with "
        f'`sqlite3 {path} ".recover" | sqlite3 recovered.sqlite` and pass --store recovered.sqlite'
    )


def is_store_error(err: BaseException) -> bool:
    """True for an SQLite error, raised directly or wrapped by pandas' ``read_sql_query``."""
    if isinstance(err, sqlite3.Error):
        return True
    return type(err).__name__ == "DatabaseError" and isinstance(err.__cause__, sqlite3.Error)
