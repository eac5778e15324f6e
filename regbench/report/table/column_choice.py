"""Which leaderboard columns a reader sees, and in which group: the one place that says
what the compact view is (terminal, page and paper table share it).

The compact view answers the question most readers bring: how accurate is each
regularizer in and out of distribution, on its worst group, how well calibrated under
shift, and at what cost (docs/architecture.md, Leaderboard). Everything else is one
``--full`` / group toggle away.
"""

from __future__ import annotations

import difflib

from regbench.registry import UserError
from regbench.report.table.aggregate import COLUMNS, FAMILY_PREFIX, Column, Leaderboard

COMPACT_KEYS = ("id_accuracy", "ood_accuracy", "worst_group_accuracy", "ece_ood", "cost_vs_erm")

# column group -> the keys in it (family columns join "accuracy"); the page's toggles
GROUPS = {
    "accuracy": ("id_accuracy", "ood_accuracy"),
    "calibration": ("ece_id", "ece_ood"),
    "robustness": ("ood_drop", "effective_robustness", "worst_group_accuracy", "gen_gap", "mia_auc"),
    "cost": ("cost_vs_erm", "train_cpu_seconds", "train_seconds"),
    "statistics": ("mean_rank", "iqm", "poi_vs_erm"),
}


class ColumnChoiceError(UserError, ValueError):
    """A --columns / --tex-columns list names a column this leaderboard does not have."""


def group_of(key: str) -> str:
    """The group a column key belongs to (per-family OOD columns are accuracy)."""
    if key.startswith(FAMILY_PREFIX):
        return "accuracy"
    return next((g for g, keys in GROUPS.items() if key in keys), "statistics")


def available(lb: Leaderboard, scope: str = "suite") -> list[Column]:
    """The metric columns with numbers in this leaderboard, in display order."""
    return [c for c in lb.columns if scope == "suite" or not c.suite_only]


def compact_columns(lb: Leaderboard, scope: str = "suite") -> list[Column]:
    """The compact set that this leaderboard has, plus the primary metric when it is not in it."""
    cols = [c for c in available(lb, scope) if c.key in COMPACT_KEYS]
    if lb.primary.key not in {c.key for c in cols}:
        cols.insert(0, lb.primary)
    return cols


def _unknown(name: str, keys: list[str]) -> ColumnChoiceError:
    close = difflib.get_close_matches(name.strip().lower(), keys, n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return ColumnChoiceError(f"unknown column '{name}'.{hint} Available: {', '.join(keys)}")


def check_names(names: list[str] | None) -> None:
    """Fail before any work when a name is no leaderboard column at all (per-family
    ``ood_acc_<family>`` columns are checked against the records later)."""
    known = {c.key.lower() for c in COLUMNS} | {c.label.lower() for c in COLUMNS}
    for name in names or []:
        if name.strip().lower() not in known and not name.strip().lower().startswith(FAMILY_PREFIX):
            raise _unknown(name, [c.key for c in COLUMNS])


def choose_columns(lb: Leaderboard, names: list[str] | None, full: bool = False, scope: str = "suite") -> list[Column]:
    """Columns for ``--columns a,b`` (keys or labels, any case), ``--full`` or the compact default."""
    cols = available(lb, scope)
    if names:
        by_name = {c.key.lower(): c for c in cols} | {c.label.lower(): c for c in cols}
        chosen = []
        for name in names:
            col = by_name.get(name.strip().lower())
            if col is None:
                raise _unknown(name, [c.key for c in cols])
            chosen.append(col)
        return chosen
    return cols if full else compact_columns(lb, scope)
