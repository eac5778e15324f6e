"""Each row's paired difference to erm, per benchmark and metric: the numbers a reader quotes (no torch).

The leaderboard's tiers answer "which rows differ from which" over all pairs with Holm's
correction; a reader who asks "what does AugMix do to erm on digits-c" wants one paired
difference with its interval. It is the same paired test (``paired_cells.benchmark_tests``:
seeds × image clusters where per-image outcomes are stored), read off at the erm column, with
its own (unadjusted) interval: one pre-specified comparison per row.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats as _st

from regbench.report.table.paired_cells import PairTests

BASELINE = "erm"
COLUMNS = ["metric", "benchmark", "regularizer", "difference", "lo", "hi", "p", "seeds", "per_image"]


def versus_baseline(tests: Mapping[str, Mapping[str, PairTests | None]], level: float) -> pd.DataFrame:
    """One row per (metric, benchmark, regularizer ≠ erm): row − erm, its ``level`` interval, p.

    tests: metric key → benchmark → the benchmark's pairs (None where untested). The interval
    is difference ± t_{(1+level)/2, df} · se of that pair (normal where df is infinite), the
    p-value the pair's own, before any multiplicity correction.
    """
    rows = []
    for key, by_bench in tests.items():
        for bench, t in by_bench.items():
            if t is None or BASELINE not in t.regs:
                continue
            j = t.regs.index(BASELINE)
            for i, reg in enumerate(t.regs):
                if i == j:
                    continue
                d, se, df = float(t.diff[i, j]), float(t.se[i, j]), float(t.df[i, j])
                q = _st.t.ppf(0.5 + level / 2, df) if np.isfinite(df) else _st.norm.ppf(0.5 + level / 2)
                half = q * se if np.isfinite(se) else np.nan
                rows.append([key, bench, reg, d, d - half, d + half, float(t.p[i, j]), t.n_seeds, t.per_image])
    return pd.DataFrame(rows, columns=COLUMNS)
