"""Two-level (seeds × image clusters) statistics of per-image outcomes (pure numpy/scipy).

A cell of a leaderboard is a mean over seeds and over the images of one or several test
splits. Two sources of error move it: the seeds (a new initialisation, batch order,
augmentation draw) and the test images (a new test set from the same distribution). Every
seed is scored on the same images, so the two are *crossed*, not nested. This module
estimates the variance of such a mean, and of the paired difference of two rows scored on
the same images, from the two-way crossed random-effects decomposition of a seeds × clusters
table (docs/metrics.md, "Two-level intervals"):

    D[s, c] = a_s + b_c + e_sc,   Var(mean D) = σ_a²/n + σ_b²/C + σ_e²/(n C)

a_s the seed main effect, b_c the image-cluster main effect, e_sc the residual (a seed's own
error on an image); n seeds, C clusters. A cluster is a base image: the warps of one image in
several splits (the 5 severities of a corruption) and its repeats inside a split form one
cluster, so the correlation between splits is measured by the data (it lives in b_c), never
assumed. The moment (ANOVA) estimators of the three components are unbiased; σ_e² enters once,
with weight 1/(nC), where "seed spread / n + binomial / N" counted it twice.

This module: ``cell_mean`` and ``paired_difference``. Beside it: ``crossed_bootstrap`` (the
same quantities by resampling, a check), ``pairwise`` (all pairs, Holm, letters, rank
ranges) and ``power`` (the minimum detectable difference). The analytic path is vectorised over any leading axes (rows, pairs): no
Python loop per image or per pair.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import sparse
from scipy import stats as _st

from regbench.report.stats.moderation import NO_PRIOR, SeedPrior

DEFAULT_LEVEL = 0.95
DEFAULT_PSEUDO = 0.5  # Jeffreys: half an image at each end of the range (see ``_decompose``)
DEFAULT_BOUNDS = (0.0, 1.0)  # 0/1 correctness


@dataclass(frozen=True)
class TwoLevelEstimate:
    """A mean (or paired difference) over seeds × images with its two-level interval.

    Every field is a float, or an array of the caller's leading shape (``all_pairs``).
    ``var_seed``, ``var_image``, ``var_residual`` are the three parts of ``se``²: σ_a²/n,
    σ_b²/C (with the pseudo-count) and σ_e²/(nC); with one seed the seed part and the
    residual cannot be told apart from the image part and are NaN (``note`` says so).
    ``p_value`` is the two-sided p of "mean = 0" (meaningful for differences).
    """

    mean: float | np.ndarray
    se: float | np.ndarray
    df: float | np.ndarray
    lo: float | np.ndarray
    hi: float | np.ndarray
    p_value: float | np.ndarray
    n_seeds: int
    n_clusters: int
    var_seed: float | np.ndarray
    var_image: float | np.ndarray
    var_residual: float | np.ndarray
    level: float = DEFAULT_LEVEL
    note: str = ""
    seed_prior: SeedPrior = NO_PRIOR  # the moderation the seed part got (stats.moderation)
    seed_df: float | np.ndarray = float("nan")  # df of the seed mean square: n − 1, or after moderation


# ----------------------------------------------------------------------------- the table


def _as_splits(outcomes) -> list[np.ndarray]:
    if isinstance(outcomes, np.ndarray):
        outcomes = [outcomes]
    arrs = [np.asarray(o, dtype=np.float64) for o in outcomes]
    if not arrs:
        raise ValueError("no split given: need at least one (n_seeds, N) array")
    lead = arrs[0].shape[:-1]
    for a in arrs:
        if a.ndim < 2 or a.shape[:-1] != lead:
            raise ValueError(f"every split needs the same (..., n_seeds) leading shape: got {[x.shape for x in arrs]}")
        if a.shape[-1] == 0:
            raise ValueError("a split has no image")
        if not np.all(np.isfinite(a)):
            raise ValueError("outcomes contain NaN or inf: drop failed runs (by seed, on every row) first")
    return arrs


def _cluster_codes(clusters, sizes: list[int]) -> tuple[list[np.ndarray], int]:
    """Per split, each image's cluster as a code 0..C-1 shared across splits; C."""
    if clusters is None:
        if len(sizes) != 1:
            raise ValueError("several splits need their cluster ids (the base image of each image)")
        return [np.arange(sizes[0])], sizes[0]
    if isinstance(clusters, np.ndarray) and clusters.ndim == 1 and len(sizes) == 1:
        clusters = [clusters]
    if len(clusters) != len(sizes):
        raise ValueError(f"{len(sizes)} splits but {len(clusters)} cluster arrays")
    ids = [np.asarray(c).ravel() for c in clusters]
    for c, n in zip(ids, sizes):
        if c.size != n:
            raise ValueError(f"a split has {n} images but {c.size} cluster ids")
    uniq, inv = np.unique(np.concatenate(ids), return_inverse=True)
    cuts = np.cumsum([0, *sizes])
    return [inv[cuts[k] : cuts[k + 1]] for k in range(len(sizes))], uniq.size


def _influence_table(outcomes, clusters) -> tuple[np.ndarray, np.ndarray]:
    """The seeds × clusters table whose grand mean is the estimate's error, linearised.

    outcomes: K arrays (..., n, N_k); returns D (..., n, C) and the estimate (...), the mean
    over splits of each split's mean over seeds and images. Split k's mean is a ratio (sum of
    outcomes / number of images) over clusters of unequal size; its linearisation gives each
    cluster c the influence C/K · Σ_k (S_skc − ȳ_k m_kc) / N_k, with S_skc the sum of seed s's
    outcomes on the m_kc images of cluster c in split k. mean_c D[s, c] = (seed s's estimate −
    the estimate), so D keeps the seed effects exactly.
    """
    arrs = _as_splits(outcomes)
    codes, n_clusters = _cluster_codes(clusters, [a.shape[-1] for a in arrs])
    lead = arrs[0].shape[:-1]
    table = np.zeros((*lead, n_clusters))
    split_means = []
    for a, code in zip(arrs, codes):
        n_img = a.shape[-1]
        onehot = sparse.csr_matrix((np.ones(n_img), (np.arange(n_img), code)), shape=(n_img, n_clusters))
        sums = np.asarray(onehot.T.dot(a.reshape(-1, n_img).T).T).reshape(*lead, n_clusters)  # S (..., n, C)
        counts = np.bincount(code, minlength=n_clusters).astype(np.float64)  # m (C,)
        mean_k = a.mean(axis=(-1, -2))  # ȳ_k (...)
        split_means.append(mean_k)
        table += (sums - mean_k[..., None, None] * counts) / n_img
    table *= n_clusters / len(arrs)
    return table, np.mean(split_means, axis=0)


# ----------------------------------------------------------------------------- the decomposition


def _t_quantile(df, level):
    df = np.asarray(df, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        q = _st.t.ppf(0.5 + level / 2.0, np.where(np.isfinite(df) & (df > 0), df, 1.0))
    return np.where(np.isfinite(df), q, _st.norm.ppf(0.5 + level / 2.0))


def effective_df(terms, dfs, level: float = DEFAULT_LEVEL):
    """Degrees of freedom of a variance that is a sum of mean-square terms, each at its own quantile.

    terms (..., J): the signed parts c_j·MS_j/(nC) of the variance; dfs (..., J) or (J,): the
    df of each mean square. Returns the df whose t quantile, times sqrt(Σ terms), equals
    sqrt(Σ_j t²_{df_j} · terms_j): each part of the half-width is expanded by its own mean
    square's quantile, and the parts add in quadrature. Infinite where that ratio is at or
    below the normal quantile; NaN where the variance is not positive.

    Why not Satterthwaite's (Σ terms)² / Σ terms²/df_j with the estimated terms: the seed mean
    square has n − 1 df (2 at 3 seeds) and where it is small by chance the plug-in df is large,
    so the interval is narrow exactly where its SE is too small. On real digits-c outcomes (40
    erm seeds × 3,000 images, tests/test_twolevel.py) that covered 89.7 % (5-split OOD mean)
    and 92.5 % (one OOD split) at 3 seeds; at the population's true df 95.5-95.9 %. This rule
    does not read the noisy ratio of the parts into the df, and covers 94.5-97 % in every cell.
    """
    terms = np.asarray(terms, dtype=np.float64)
    dfs = np.broadcast_to(np.asarray(dfs, dtype=np.float64), terms.shape)
    total = terms.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        target = np.sqrt((_t_quantile(dfs, level) ** 2 * terms).sum(-1) / total)
    z = _st.norm.ppf(0.5 + level / 2.0)
    floor = np.where(terms > 0, dfs, np.inf).min(-1)  # the df of the least certain positive part
    floor = np.where(np.isfinite(floor), np.maximum(floor, 1e-3), 1e-3)
    target = np.minimum(target, _t_quantile(floor, level))  # a signed sum can overshoot by rounding
    lo, hi = np.log(floor), np.full(floor.shape, np.log(1e9))
    for _ in range(50):  # t's quantile falls as df rises: bisect log df to a relative 2^-50 of the bracket
        mid = 0.5 * (lo + hi)
        above = _t_quantile(np.exp(mid), level) > target
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    df = np.where(target <= z * (1.0 + 1e-12), np.inf, np.exp(0.5 * (lo + hi)))  # rounding of Σ z² terms / Σ terms
    return np.where(np.isfinite(target) & (total > 0), df, np.nan)


def seed_mean_square(table) -> np.ndarray:
    """MS_A of ``_decompose`` (n − 1 df): n_clusters × the variance of the seed means. table (..., n, C) → (...)."""
    return _seed_ms(table.mean(axis=-1), table.shape[-1])


def _seed_ms(row, n_cl: int) -> np.ndarray:
    """MS_A from the seed means ``row`` (..., n) of a table with ``n_cl`` clusters."""
    return n_cl * ((row - row.mean(-1)[..., None]) ** 2).sum(-1) / max(row.shape[-1] - 1.0, 1.0)


def _decompose(table, mean, value_range, pseudo, level, clip, seed_prior: SeedPrior = NO_PRIOR) -> TwoLevelEstimate:
    """Variance of mean(D) from the crossed random-effects ANOVA of D (..., n, C).

    Mean squares: MS_A (seeds, n−1 df), MS_B (clusters, C−1 df), MS_E (residual, (n−1)(C−1)
    df); E[MS_A] = σ_e² + Cσ_a², E[MS_B] = σ_e² + nσ_b², E[MS_E] = σ_e². Components are
    truncated at 0: Var = [max(MS_A−MS_E, 0) + max(MS_B−MS_E, 0) + MS_E] / (nC), a linear
    combination of mean squares; its df is ``effective_df``'s (each mean square at its own t
    quantile), not Satterthwaite's plug-in (Σ c_j MS_j)² / Σ (c_j MS_j)²/df_j, which
    under-covered at 3 seeds (``effective_df`` says why).

    Pseudo-count at the boundary: MS_B is computed with two extra clusters of weight
    ``pseudo`` each whose seed-mean influence is the lowest and the highest value the metric
    allows (value_range − estimate), as Jeffreys' prior adds half a success and half a failure.
    Where every image agrees (no error on 113 images, or two rows that differ on no image) the
    image part is then not 0, and a gap of a few discordant images keeps its McNemar-like
    width; on 3,000 images it changes the variance by about 1%. Off with ``pseudo=0`` or an
    infinite ``value_range``.

    ``seed_prior``: MS_A is replaced by its moderated value with n − 1 + d0 df
    (``stats.moderation``); the default leaves it as it is.
    """
    n, n_cl = table.shape[-2], table.shape[-1]
    col = table.mean(axis=-2)  # (..., C) seed-averaged influence of each cluster
    lo_v, hi_v = value_range
    w = pseudo if (pseudo > 0 and np.isfinite(lo_v) and np.isfinite(hi_v)) else 0.0
    ends = np.stack([lo_v - mean, hi_v - mean], axis=-1) if w else np.zeros((*col.shape[:-1], 0))
    centre = (col.sum(-1) + w * ends.sum(-1)) / (n_cl + 2 * w)
    ss_col = ((col - centre[..., None]) ** 2).sum(-1) + w * ((ends - centre[..., None]) ** 2).sum(-1)
    df_b = np.full(col.shape[:-1], n_cl - 1.0)
    ms_b = n * ss_col / (n_cl + 2 * w - 1.0) if n_cl + 2 * w > 1 else np.full(col.shape[:-1], np.nan)
    note = ""
    if n < 2:
        var = ms_b / (n * n_cl)
        df = np.broadcast_to(df_b, var.shape).astype(np.float64)
        nan = np.full_like(var, np.nan)
        parts = (nan, var, nan)
        df_a = nan
        note = "one seed: no seed part; the interval covers a new test set for this one training run only"
    else:
        row = table.mean(axis=-1)  # (..., n)
        grand = row.mean(-1)
        ms_a, df_a = seed_prior.moderate(_seed_ms(row, n_cl), n - 1.0)
        resid = table - row[..., None] - col[..., None, :] + grand[..., None, None]
        df_e = (n - 1.0) * (n_cl - 1.0)
        ms_e = (resid**2).sum((-1, -2)) / df_e if df_e > 0 else np.zeros_like(ms_a)
        use_a = ms_a >= ms_e
        use_b = ms_b >= ms_e
        c_a, c_b = use_a.astype(float), use_b.astype(float)
        c_e = 1.0 - c_a - c_b
        terms = np.stack([c_a * ms_a, c_b * ms_b, c_e * ms_e], axis=-1) / (n * n_cl)
        var = terms.sum(-1)
        dfs = np.stack(np.broadcast_arrays(df_a, df_b, max(df_e, 1.0)), axis=-1)
        df = np.where(var > 0, effective_df(terms, dfs, level), np.inf)
        parts = (
            np.where(use_a, ms_a - ms_e, 0.0) / (n * n_cl),
            np.where(use_b, ms_b - ms_e, 0.0) / (n * n_cl),
            ms_e / (n * n_cl),
        )
    var = np.maximum(var, 0.0)
    se = np.sqrt(var)
    half = _t_quantile(df, level) * se
    lo, hi = mean - half, mean + half
    if clip is not None:
        lo, hi = np.clip(lo, *clip), np.clip(hi, *clip)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.abs(mean) / se
        p = np.where(se > 0, 2.0 * _st.t.sf(t, np.where(np.isfinite(df), df, 1e9)), np.where(mean == 0, 1.0, 0.0))
    out = [mean, se, df, lo, hi, p, *parts, df_a]
    out = [float(x) if np.ndim(x) == 0 else np.asarray(x) for x in out]
    return TwoLevelEstimate(*out[:6], n, n_cl, *out[6:9], level=level, note=note, seed_prior=seed_prior, seed_df=out[9])


# ----------------------------------------------------------------------------- cells and pairs


def cell_mean(
    outcomes,
    clusters=None,
    *,
    bounds: tuple[float, float] = DEFAULT_BOUNDS,
    level: float = DEFAULT_LEVEL,
    pseudo: float = DEFAULT_PSEUDO,
) -> TwoLevelEstimate:
    """Mean over splits of each split's mean over seeds × images, with its two-level interval.

    outcomes: one array (n_seeds, N) or a sequence of K arrays (n_seeds, N_k), one per split
    (0/1 correctness or any per-image score in ``bounds``); seed s is the same run in every
    split. clusters: per split (N_k,) ids of the base image each image was made from (the same
    id across splits and repeated inside one: one cluster); None for a single split of
    independent images.

    Estimand: the expected score over new seeds and a new test set drawn from the same
    distribution (new base images, each warped as the splits warp it), for this training set.
    Interval: Student t with ``effective_df``'s df; with finite ``bounds`` a Wilson-type score
    interval (``_score_bounds``), inside ``bounds``; otherwise symmetric around the estimate.
    ``pseudo``: see ``_decompose`` (half an image at each end of ``bounds``).
    """
    table, mean = _influence_table(outcomes, clusters)
    est = _decompose(table, mean, bounds, pseudo, level, bounds)
    lo_v, hi_v = bounds
    if not (np.isfinite(lo_v) and np.isfinite(hi_v)):
        return est
    lo, hi = _score_bounds(est, pseudo, bounds)
    return replace(est, lo=lo, hi=hi)


def _score_bounds(est: TwoLevelEstimate, pseudo: float, bounds: tuple[float, float]):
    """Wilson-type bounds: the image part evaluated at the candidate value θ, not at the estimate.

    The image part of a bounded score behaves like θ's binomial variance: it shrinks to 0 at the
    ends of the range. Taking it as V_image · g(θ)/g(θ̃), g(θ) = (θ − lo)(hi − θ) and θ̃ the
    Jeffreys-adjusted estimate (C θ̂ + pseudo (lo + hi)) / (C + 2 pseudo), the bounds are the two
    roots of (θ̂ − θ)² = t² [V_seed + V_residual + V_image g(θ)/g(θ̃)], a quadratic in θ. As
    Wilson's interval for a proportion, it moves away from the end the estimate is near, where
    the symmetric interval covered 92% at 2.5 errors in 113 images (tests/test_twolevel.py).
    """
    lo_v, hi_v = bounds
    c = est.n_clusters
    centre = (c * np.asarray(est.mean) + pseudo * (lo_v + hi_v)) / (c + 2.0 * pseudo)
    t2 = _t_quantile(est.df, est.level) ** 2
    g = (centre - lo_v) * (hi_v - centre)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.where(g > 0, np.asarray(est.var_image) / g, 0.0)
    other = np.nan_to_num(np.asarray(est.var_seed)) + np.nan_to_num(np.asarray(est.var_residual))
    qa = 1.0 + t2 * a
    qb = -(2.0 * np.asarray(est.mean) + t2 * a * (lo_v + hi_v))
    qc = np.asarray(est.mean) ** 2 - t2 * other + t2 * a * lo_v * hi_v
    root = np.sqrt(np.maximum(qb * qb - 4.0 * qa * qc, 0.0))
    lo, hi = np.clip((-qb - root) / (2.0 * qa), lo_v, hi_v), np.clip((-qb + root) / (2.0 * qa), lo_v, hi_v)
    return (float(lo), float(hi)) if lo.ndim == 0 else (lo, hi)


def paired_difference(
    x_outcomes,
    y_outcomes,
    clusters=None,
    *,
    bounds: tuple[float, float] = DEFAULT_BOUNDS,
    level: float = DEFAULT_LEVEL,
    pseudo: float = DEFAULT_PSEUDO,
    seed_prior: SeedPrior = NO_PRIOR,
) -> TwoLevelEstimate:
    """Paired difference x − y of two rows scored on the same images, seeds paired by index.

    x_outcomes, y_outcomes: as ``cell_mean``'s, with the same shapes (seed s of x is paired
    with seed s of y). The decomposition of ``cell_mean`` is applied to the per-(seed, image)
    differences: the test-set error both rows share cancels, the discordant images carry the
    image part (as in McNemar's test) and the seeds the rest. The pseudo-count sits at the
    ends of the difference's range, ±(hi − lo). Returns mean difference, se, df, CI (clipped to
    ±(hi − lo)) and the two-sided p of "no difference". ``seed_prior``: the benchmark's
    (``all_pairs(...).seed_prior``), so that one pair's test is the table's.
    """
    xs, ys = _as_splits(x_outcomes), _as_splits(y_outcomes)
    if [a.shape for a in xs] != [b.shape for b in ys]:
        raise ValueError("paired rows need the same splits, seeds and images")
    table, mean = _influence_table([a - b for a, b in zip(xs, ys)], clusters)
    width = bounds[1] - bounds[0]
    return _decompose(table, mean, (-width, width), pseudo, level, (-width, width), seed_prior)
