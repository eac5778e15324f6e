"""Moderated seed variances: the pairs of one benchmark pool what they know about seed noise.

At 3 seeds each paired difference's seed mean square has 2 degrees of freedom, and a t test
on 2 df needs a true difference ~5.5 standard errors wide to find it 80% of the time: the
leaderboard tied nearly every pair. The K(K−1)/2 pairs of a benchmark all estimate a seed
variance of the same kind (the same model, data and seeds; another regularizer), so they
borrow strength from each other by empirical Bayes (Smyth 2004, Stat. Appl. Genet. Mol. Biol.
3:3, the "moderated t" of limma):

- each pair's seed mean square s² (d df) is a draw around its own variance σ², and the σ² of
  the benchmark's pairs are modelled as a scaled inverse-χ² with d0 df and scale s0²;
- d0 and s0² are fitted by the method of moments on log s², whose sampling variance at d df
  is the trigamma ψ'(d/2): the spread of log s² *beyond* ψ'(d/2) is the spread of the true
  variances, which fixes d0 (ψ'(d0/2) = that excess);
- each pair's seed mean square becomes (d0·s0² + d·s²)/(d0 + d), with d0 + d df, where
  that raises it (``SeedPrior.moderate`` says why it never lowers one).

Where the pairs' seed variances differ as much as 2-df estimates of truly different variances
would, d0 is near 0 and nothing changes; where they are alike, d0 is large and the seed part
is pooled (one variance for all pairs, the common-residual mixed model, with d0 capped by
``fit_seed_prior``'s ``max_df``). The data say which, per benchmark and metric. Why not that
mixed model outright: it assumes d0 = ∞, and a row that is unstable across seeds (a
regularizer that sometimes collapses) would then make every other pair look noisier and
itself look surer than it is.

A pair whose seed mean square is 0 or not finite does not enter the fit; it still gets the
shrunken value, never a zero variance. With fewer than ``MIN_PAIRS`` usable pairs there is no
fit (d0 = 0: each pair on its own n − 1 df, as before).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

MIN_PAIRS = 3  # below this the spread of log s² says nothing about the variances' spread


@dataclass(frozen=True)
class SeedPrior:
    """Scaled inverse-χ² prior of a benchmark's seed mean squares: ``df`` (d0, may be inf) and
    ``scale`` (s0²). ``pairs``: how many mean squares it was fitted on (0: no prior, d0 = 0)."""

    df: float = 0.0
    scale: float = 0.0
    pairs: int = 0

    def moderate(self, mean_square, df: float):
        """(mean square, its df) of each pair after moderation. mean_square (...,): s² with ``df`` df.

        The shrunken value is (d0·s0² + d·s²)/(d0 + d) with d0 + d df (s0² and d0 + d = ∞ when
        d0 = ∞). The prior only ever *raises* a pair's mean square: where the pair's own s² is
        above the shrunken value it keeps s² and its own d df. Shrinking a large s² down is
        where empirical Bayes is anticonservative: a row less stable than the others would look
        surer than it is (docs/metrics.md, "Moderated seed variances", gives the simulation).
        """
        ms = np.asarray(mean_square, dtype=np.float64)
        plain_df = np.full(ms.shape, float(df))
        if self.df <= 0:
            return ms, plain_df
        ms = np.where(np.isfinite(ms), ms, self.scale)
        if np.isinf(self.df):
            shrunk, shrunk_df = np.full(ms.shape, self.scale), np.full(ms.shape, np.inf)
        else:
            shrunk = (self.df * self.scale + df * ms) / (self.df + df)
            shrunk_df = np.full(ms.shape, self.df + df)
        own = ms > shrunk
        return np.where(own, ms, shrunk), np.where(own, plain_df, shrunk_df)


NO_PRIOR = SeedPrior()


def fit_seed_prior(mean_squares, df: float, max_df: float = np.inf) -> SeedPrior:
    """Fit d0 and s0² to the seed mean squares of a benchmark's pairs (Smyth 2004, §6.2).

    mean_squares (G,): one per pair, each with ``df`` degrees of freedom (n_seeds − 1). Zero or
    non-finite values are left out. Returns NO_PRIOR (d0 = 0) with fewer than ``MIN_PAIRS``
    usable values or df ≤ 0.

    ``max_df`` caps d0: how well the data can know s0². K rows' K(K−1)/2 pairs are built from
    the rows' (n − 1)(K − 1) seed × row degrees of freedom, so s0² is never known better than
    that, however alike the pairs look (d0 = ∞ would treat it as exact: on 4 simulated rows of
    equal stability, 9.5 % of draws separated some pair at α = 0.05; capped, 5.5 %). limma
    needs no cap with thousands of genes; a leaderboard has 2 to 30 rows.
    """
    s2 = np.asarray(mean_squares, dtype=np.float64).ravel()
    s2 = s2[np.isfinite(s2) & (s2 > 0)]
    if s2.size < MIN_PAIRS or not df > 0:
        return NO_PRIOR
    half = df / 2.0
    e = np.log(s2) - special.digamma(half) + np.log(half)  # E[e] = log σ² for σ²·χ²_d/d sampling
    centre = float(e.mean())
    excess = float(((e - centre) ** 2).sum() / (s2.size - 1) - special.polygamma(1, half))
    if excess <= 0:  # no more spread than d-df sampling of one variance makes: pool fully
        return SeedPrior(float(max_df), float(np.exp(centre)), int(s2.size))
    d0 = 2.0 * trigamma_inverse(excess)
    scale = float(np.exp(centre + special.digamma(d0 / 2.0) - np.log(d0 / 2.0)))
    return SeedPrior(float(min(d0, max_df)), scale, int(s2.size))


def trigamma_inverse(y: float) -> float:
    """x > 0 with ψ'(x) = y (Newton's iteration of Smyth 2004, Appendix, on 1/ψ', convex)."""
    if y > 1e7:
        return 1.0 / np.sqrt(y)
    if y < 1e-6:
        return 1.0 / y
    x = 0.5 + 1.0 / y
    for _ in range(50):
        tri = float(special.polygamma(1, x))
        step = tri * (1.0 - tri / y) / float(special.polygamma(2, x))
        x += step
        if -step / x < 1e-8:
            break
    return float(x)
