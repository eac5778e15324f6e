"""What a leaderboard shows: its columns, their meaning, direction and range, and the frame schemas.

Every leaderboard column is declared here once (``COLUMNS``). ``bounds`` is the range the
true value lies in (accuracies, worst-group accuracy and ECE in [0, 1], i.e. [0, 100] %;
MIA AUC and P(>erm) in [0, 1]; seconds and cost ratios >= 0; drops, gaps and effective
robustness unbounded): the aggregate clips every interval to it (docs/metrics.md, "Intervals").
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np

UNBOUNDED = (-np.inf, np.inf)
FRACTION = (0.0, 1.0)  # accuracies, ECE, AUCs, probabilities (shown x100 where they are %)
POSITIVE = (0.0, np.inf)  # seconds and ratios of seconds

RUN_COLUMNS = [
    "run_key",
    "suite",
    "benchmark",
    "regularizer",
    "regularizer_kind",
    "params",
    "seed",
    "status",
    "error",
    "submission",
]
METRIC_COLUMNS = ["run_key", "split", "family", "shift", "severity", "metric", "value", "n"]
STATUSES = ("ok", "failed", "diverged", "collapsed")  # aggregate counts them in this order
BASELINE = "erm"


@dataclass(frozen=True)
class Column:
    """One leaderboard number: how it is named, which way is better and how it is shown."""

    key: str
    label: str
    higher_is_better: bool
    scale: float  # display multiplier: fractions are shown as percent
    digits: int
    help: str
    suite_only: bool = False
    # the range the true value lies in, in stored units (fractions, not percent): interval
    # ends are clipped to it, which can only keep the true value inside (coverage unchanged)
    bounds: tuple[float, float] = UNBOUNDED

    def clip(self, lo, hi):
        """Interval ends (arrays or floats) clipped to ``bounds``; NaN stays NaN."""
        return np.clip(lo, *self.bounds), np.clip(hi, *self.bounds)


# Every leaderboard column, in display order (OOD-family columns are inserted after
# ood_accuracy). This is the one place that says what a column means.
COLUMNS = [
    Column(
        "id_accuracy",
        "ID acc",
        True,
        100,
        1,
        "accuracy (%) on test_id, the in-distribution test split",
        bounds=FRACTION,
    ),
    Column(
        "ood_accuracy",
        "OOD acc",
        True,
        100,
        1,
        "accuracy (%) averaged over the benchmark's OOD splits",
        bounds=FRACTION,
    ),
    Column("ood_drop", "OOD drop", False, 100, 1, "ID acc - OOD acc, in points"),
    Column(
        "effective_robustness",
        "Eff. rob.",
        True,
        100,
        1,
        "OOD acc minus the OOD acc predicted from ID acc by a probit-linear fit over all runs of the "
        "benchmark (Miller et al. 2021, arXiv:2107.04649), in points",
    ),
    Column(
        "worst_group_accuracy",
        "Worst-group",
        True,
        100,
        1,
        "worst-group accuracy (%) averaged over OOD splits",
        bounds=FRACTION,
    ),
    Column("ece_id", "ECE ID", False, 100, 1, "expected calibration error (%, 15 bins) on test_id", bounds=FRACTION),
    Column(
        "ece_ood",
        "ECE OOD",
        False,
        100,
        1,
        "expected calibration error (%, 15 bins) averaged over OOD splits",
        bounds=FRACTION,
    ),
    Column("gen_gap", "Gen. gap", False, 100, 1, "train accuracy - test_id accuracy, in points"),
    Column(
        "mia_auc",
        "MIA AUC",
        False,
        1,
        3,
        "membership-inference AUC of a loss-threshold attack (0.5 = no leakage)",
        bounds=FRACTION,
    ),
    Column(
        "cost_vs_erm",
        "Cost vs erm",
        False,
        1,
        2,
        "train CPU seconds (process time, all threads) / erm's on the same benchmark; wall-clock train "
        "seconds only for records made before CPU time was recorded",
        bounds=POSITIVE,
    ),
    Column(
        "train_cpu_seconds",
        "CPU s",
        False,
        1,
        1,
        "train CPU seconds per run (process time of the epochs)",
        bounds=POSITIVE,
    ),
    Column(
        "train_seconds",
        "Wall s",
        False,
        1,
        1,
        "train wall-clock seconds per run (depends on the machine's load)",
        bounds=POSITIVE,
    ),
    Column("mean_rank", "Mean rank", False, 1, 2, "mean over benchmarks of the rank by the primary metric", True),
    Column("iqm", "IQM", True, 100, 1, "interquartile mean of the primary metric over benchmark x seed scores", True),
    Column(
        "poi_vs_erm",
        "P(>erm)",
        True,
        1,
        2,
        "probability of improvement over erm: P(X > Y) over seed pairs, averaged over benchmarks",
        True,
        bounds=FRACTION,
    ),
]
FAMILY_PREFIX = "ood_acc_"
SE_PREFIX = "sampling_se:"  # run-table column: binomial standard error of the run's test split(s)
MIN_SEEDS = 5  # fewer seeds than this and the leaderboard warns above its table
RUN_KEYS = [
    "id_accuracy",
    "ood_accuracy",
    "ood_drop",
    "effective_robustness",
    "worst_group_accuracy",
    "ece_id",
    "ece_ood",
    "gen_gap",
    "mia_auc",
    "train_seconds",
    "train_cpu_seconds",
    "cost_seconds",  # what cost_vs_erm divides: CPU seconds, else wall seconds (older records)
]


def family_column(family: str) -> Column:
    return Column(
        FAMILY_PREFIX + family,
        f"OOD {family}",
        True,
        100,
        1,
        f"accuracy (%) averaged over the {family} OOD splits",
        bounds=FRACTION,
    )


def resolve_primary(name: str, available: list[Column]) -> Column:
    by_key = {c.key: c for c in available}
    if name not in by_key:
        close = difflib.get_close_matches(name, list(by_key), n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown primary_metric '{name}'.{hint} Available: {', '.join(by_key)}")
    return by_key[name]


def display_order(cols: list[Column]) -> list[Column]:
    """Family columns right after overall OOD accuracy."""
    fams = [c for c in cols if c.key.startswith(FAMILY_PREFIX)]
    rest = [c for c in cols if not c.key.startswith(FAMILY_PREFIX)]
    at = next((i + 1 for i, c in enumerate(rest) if c.key == "ood_accuracy"), len(rest))
    return rest[:at] + fams + rest[at:]
