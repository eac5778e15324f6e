"""A two-level (seeds × image clusters) bootstrap of a cell mean or a paired difference.

The check on :mod:`regbench.report.stats.crossed`'s analytic variance (docs/metrics.md,
"Two-level intervals and paired tests"), and an option where a reader wants resampling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from regbench.report.stats.crossed import _as_splits, _cluster_codes

# ----------------------------------------------------------------------------- bootstrap


@dataclass(frozen=True)
class BootstrapVariance:
    """Variances of the estimate under three resampling schemes and the variance they give.

    ``seeds``: seeds resampled, images fixed; ``clusters``: clusters resampled, seeds fixed;
    ``both``: both at once (the "pigeonhole" bootstrap, Owen 2007, Ann. Appl. Stat. 1:246-269).
    Alone, ``both`` counts the residual σ_e²/(nC) three times and shrinks the seed part by
    (n−1)/n. For a linear statistic n/(n−1)·V_seeds, C/(C−1)·V_clusters and
    nC/((n−1)(C−1))·(V_both − V_seeds − V_clusters) have the expectations of MS_A, MS_B and
    MS_E over nC, so ``variance`` combines them with ``_decompose``'s rule (components truncated
    at 0). For the ratio of a multi-split mean with unequal clusters it checks the
    linearisation; no pseudo-count.
    """

    mean: float
    variance: float
    seeds: float
    clusters: float
    both: float
    reps: int

    @property
    def se(self) -> float:
        return float(np.sqrt(max(self.variance, 0.0)))


def twolevel_bootstrap(outcomes, clusters=None, *, other=None, reps: int = 2000, seed: int = 0) -> BootstrapVariance:
    """Two-level bootstrap of ``cell_mean``'s estimate, or of ``paired_difference``'s (x − other).

    Each replicate draws seeds with replacement (multinomial counts, n of n) and clusters with
    replacement (C of C) and recomputes every split's mean as a ratio: Σ weighted outcomes /
    Σ weighted image counts. Vectorised over replicates (reps × K × n × C work). Needs n ≥ 2.
    """
    arrs = _as_splits(outcomes)
    if other is not None:
        arrs = [a - b for a, b in zip(arrs, _as_splits(other))]
    codes, n_cl = _cluster_codes(clusters, [a.shape[-1] for a in arrs])
    n = arrs[0].shape[-2]
    if n < 2:
        raise ValueError("the seed part of a bootstrap needs at least 2 seeds")
    sums, counts = [], []
    for a, code in zip(arrs, codes):
        s = np.zeros((n, n_cl))
        np.add.at(s, (slice(None), code), a)
        sums.append(s)
        counts.append(np.bincount(code, minlength=n_cl).astype(float))
    sums, counts = np.stack(sums), np.stack(counts)  # (K, n, C), (K, C)
    rng = np.random.default_rng(seed)
    ws = rng.multinomial(n, np.full(n, 1.0 / n), size=reps).astype(float)
    wc = rng.multinomial(n_cl, np.full(n_cl, 1.0 / n_cl), size=reps).astype(float)
    one_s, one_c = np.ones((reps, n)), np.ones((reps, n_cl))

    def estimate(w_s, w_c):
        num = np.einsum("rs,ksc,rc->rk", w_s, sums, w_c) / n
        return (num / (w_c @ counts.T)).mean(-1)

    v_s, v_c, v_b = (estimate(a, b).var(ddof=1) for a, b in ((ws, one_c), (one_s, wc), (ws, wc)))
    ms_a = n / (n - 1.0) * v_s
    ms_b = n_cl / (n_cl - 1.0) * v_c
    ms_e = n * n_cl / ((n - 1.0) * (n_cl - 1.0)) * (v_b - v_s - v_c)
    use_a, use_b = float(ms_a >= ms_e), float(ms_b >= ms_e)
    var = use_a * ms_a + use_b * ms_b + (1.0 - use_a - use_b) * ms_e
    mean = float(np.mean([a.mean() for a in arrs]))
    return BootstrapVariance(mean, float(var), float(v_s), float(v_c), float(v_b), reps)
