"""Resolution: the smallest paired difference a suite finds with 80 % power at its seeds."""

from __future__ import annotations


import numpy as np
from scipy import stats as _st

from regbench.report.stats.crossed import TwoLevelEstimate, effective_df
from regbench.report.stats.pairwise import PairwiseResult  # noqa: F401

# ----------------------------------------------------------------------------- resolution


def minimum_detectable_difference(se, df=np.inf, *, alpha: float = 0.05, power: float = 0.8):
    """Smallest true paired difference a two-sided level-alpha t test finds with ``power``.

    se, df (arrays broadcast): the paired standard error and its degrees of freedom. Exact
    noncentral t: the δ with P(|T'| > t_{1−α/2, df}) = power, T' ~ t(df, ncp = δ/se), the ncp
    found by bisection (vectorised); where df is infinite the normal version
    (z_{1−α/2} + z_power)·se, 2.80·se at α = 0.05 and 80%.
    """
    se = np.asarray(se, dtype=np.float64)
    se, df = np.broadcast_arrays(se, np.asarray(df, dtype=np.float64))
    z = _st.norm.ppf(1 - alpha / 2) + _st.norm.ppf(power)
    finite = np.isfinite(df)
    d = np.where(finite, np.maximum(df, 1e-3), 1.0)
    crit = _st.t.ppf(1 - alpha / 2, d)
    lo, hi = np.zeros(se.shape), np.full(se.shape, 10.0 * z + 50.0)
    for _ in range(60):  # power rises with the ncp; 2^-60 of the bracket
        mid = 0.5 * (lo + hi)
        pw = _st.nct.sf(crit, d, mid) + _st.nct.cdf(-crit, d, mid)
        low = pw < power
        lo, hi = np.where(low, mid, lo), np.where(low, hi, mid)
    out = np.where(finite, 0.5 * (lo + hi), z) * se
    return float(out) if out.ndim == 0 else out


def projected(est: TwoLevelEstimate, n_seeds: int):
    """(se, df) that ``est`` would have with ``n_seeds`` seeds on the same images.

    σ_a²/n and σ_e²/(nC) scale with 1/n, σ_b²/C does not. The parts are put back into the mean
    square terms of ``crossed._decompose`` (MS_A/(nC) = σ_a²/n + σ_e²/(nC) with n'−1 df, plus
    the moderation prior's d0 where moderation raised it (``est.seed_df``), where the seed part was
    kept, MS_B/(nC) = σ_b²/C + σ_e²/(nC) with C−1 df where the image part was,
    ∓MS_E/(nC) with (n'−1)(C−1) df) and the df is ``crossed.effective_df``'s, the rule the
    intervals use. NaN where the seed parts are unknown (one seed) or n_seeds < 2.
    """
    scale = est.n_seeds / float(n_seeds)
    seed, image, resid = np.broadcast_arrays(
        np.asarray(est.var_seed) * scale, np.asarray(est.var_image), np.asarray(est.var_residual) * scale
    )
    use_a, use_b = (seed > 0).astype(float), (image > 0).astype(float)
    terms = np.stack([use_a * (seed + resid), use_b * (image + resid), (1.0 - use_a - use_b) * resid], axis=-1)
    # the seed mean square's df: n'−1, plus the prior's d0 where moderation raised it (est.seed_df)
    had = np.asarray(est.seed_df, dtype=np.float64)
    seed_df = np.broadcast_to(np.where(np.isnan(had), n_seeds - 1.0, had + (n_seeds - est.n_seeds)), seed.shape)
    rest = [est.n_clusters - 1.0, max((n_seeds - 1.0) * (est.n_clusters - 1.0), 1.0)]
    dfs = np.stack([seed_df, *np.broadcast_arrays(*rest, seed)[:2]], axis=-1)
    var = terms.sum(-1)
    with np.errstate(invalid="ignore"):
        df = np.where(var > 0, effective_df(terms, dfs), np.inf) if n_seeds >= 2 else np.full_like(var, np.nan)
    if n_seeds < 2:
        var = np.full_like(var, np.nan)
    return np.sqrt(var), df


def suite_minimum_detectable_difference(
    result: PairwiseResult, n_seeds: int | None = None, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Minimum detectable difference of one benchmark at ``n_seeds`` seeds (default: the suite's).

    The typical pair's paired SE — the root of the mean over the benchmark's K(K−1)/2 pairs of
    the paired variance, each projected to n_seeds with ``projected`` — and the median df, then
    ``minimum_detectable_difference`` (noncentral t). The root mean variance, not the median SE:
    at 3 seeds each pair's seed part has 2 df, and the median of such SEs runs ~0.83× low. This
    is the resolution of one pre-specified paired test at ``alpha`` (what ``compare`` runs); the
    table's Holm-adjusted all-pairs tiers need a larger difference.
    """
    iu = np.triu_indices(result.means.size, 1)
    se, df = projected(result.pairs, result.pairs.n_seeds if n_seeds is None else n_seeds)
    typical = float(np.sqrt(np.nanmean(np.square(se[iu]))))
    return float(minimum_detectable_difference(typical, np.nanmedian(df[iu]), alpha=alpha, power=power))
