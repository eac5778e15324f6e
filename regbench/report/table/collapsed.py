"""The leaderboard's note on collapsed runs: which benchmark, regularizer and seeds.

A run is recorded ``collapsed`` when its classifier predicts one class on almost every image
of a test split, or its train accuracy is at chance (regbench.evaluate.collapse decides it
at record time; docs/metrics.md, "Collapsed runs"). Like a diverged run it is counted in its
own column and left out of every mean, interval, rank and tier; this note names the runs.
"""

from __future__ import annotations

import pandas as pd

COLLAPSED = "collapsed"  # the run status, and the text of a cell whose every seed collapsed


def collapsed_notes(table: pd.DataFrame) -> list[str]:
    """One note naming every collapsed run as 'regularizer on benchmark (seeds …)', or none.

    table: ``run_table`` output (one row per run with benchmark, regularizer, seed, status).
    """
    runs = table[table["status"] == COLLAPSED]
    if runs.empty:
        return []
    named = "; ".join(
        f"{reg} on {bench} (seed{'s' if len(grp) > 1 else ''} {', '.join(str(int(s)) for s in sorted(grp['seed']))})"
        for (bench, reg), grp in runs.groupby(["benchmark", "regularizer"], sort=True)
    )
    return [
        f"Collapsed: {len(runs)} run{'s' if len(runs) > 1 else ''} predicted one class on at least 99% of a test "
        "split's images (10 points or more above that class's true share) or ended with train accuracy at "
        "chance; they are counted in the Collapsed column and left out of every mean, interval and rank "
        f"(a cell whose every seed collapsed reads '{COLLAPSED}'): {named}."
    ]
