"""Statistics over seeds and benchmarks (pure numpy): the first stage of the report.

rliable's definitions (Agarwal et al., NeurIPS 2021, https://arxiv.org/abs/2108.13264),
re-implemented instead of depending on rliable, whose install pulls in arch, statsmodels,
formulaic, patsy and absl-py for ~15 lines of numpy, and whose bootstrap draws from the
global ``np.random`` state (docs/architecture.md, Conventions: Seeds). One job per module:

- ``estimate``: the ``Estimate`` result type, the default level and replicate count;
- ``intervals``: Student-t intervals of means over seeds, widened by the test split's
  binomial error (docs/metrics.md, "Intervals");
- ``aggregates``: IQM and (mean) ranks over runs x tasks;
- ``improvement``: the probability of improvement P(X > Y) and its score interval;
- ``bootstrap``: the stratified percentile bootstrap (IQM, mean rank, cost vs erm);
- ``paired``: the paired Student-t difference over seeds and the Holm-Bonferroni step-down;
- ``verdict``: the sentence ``compare`` prints from a paired difference.
- ``crossed``: per-image outcomes of a crossed seeds × images design: a cell's mean over one
  or several splits and the paired difference of two rows, with intervals (docs/metrics.md,
  "Two-level intervals and paired tests"); ``crossed_bootstrap`` checks it by resampling;
- ``pairwise``: every pair of rows, Holm, the letter display and rank ranges;
- ``moderation``: the pairs' seed variances pooled by empirical Bayes (Smyth 2004), only ever
  raised (docs/metrics.md, "Moderated seed variances");
- ``power``: the minimum detectable difference.

The names below are re-exported so that ``from regbench.report import stats`` reads
``stats.paired_difference`` wherever a caller needs several of them.
"""

from __future__ import annotations

from regbench.report.stats.aggregates import average_ranks, iqm, mean_rank
from regbench.report.stats.estimate import DEFAULT_LEVEL, DEFAULT_REPS, EQUAL_TOL, Estimate
from regbench.report.stats.improvement import (
    auc_variance,
    poi_score_interval,
    probability_of_improvement,
    probability_of_improvement_ci,
)
from regbench.report.stats.intervals import (
    binomial_variance,
    mean_interval,
    satterthwaite_df,
    t_bounds,
    t_interval,
    t_quantile,
)
from regbench.report.stats.paired import holm, paired_difference

__all__ = [
    "DEFAULT_LEVEL",
    "DEFAULT_REPS",
    "EQUAL_TOL",
    "Estimate",
    "auc_variance",
    "average_ranks",
    "binomial_variance",
    "holm",
    "iqm",
    "mean_interval",
    "mean_rank",
    "paired_difference",
    "poi_score_interval",
    "probability_of_improvement",
    "probability_of_improvement_ci",
    "satterthwaite_df",
    "t_bounds",
    "t_interval",
    "t_quantile",
]
