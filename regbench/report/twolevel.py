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

Public functions: ``cell_mean``, ``paired_difference``, ``twolevel_bootstrap``, ``all_pairs``,
``letter_display``, ``rank_ranges``, ``holm_adjust``, ``minimum_detectable_difference``,
``projected``, ``suite_minimum_detectable_difference``. The analytic path is vectorised over any leading axes (rows, pairs): no
Python loop per image or per pair.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import sparse
from scipy import stats as _st

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


def _decompose(table, mean, value_range, pseudo, level, clip) -> TwoLevelEstimate:
    """Variance of mean(D) from the crossed random-effects ANOVA of D (..., n, C).

    Mean squares: MS_A (seeds, n−1 df), MS_B (clusters, C−1 df), MS_E (residual, (n−1)(C−1)
    df); E[MS_A] = σ_e² + Cσ_a², E[MS_B] = σ_e² + nσ_b², E[MS_E] = σ_e². Components are
    truncated at 0: Var = [max(MS_A−MS_E, 0) + max(MS_B−MS_E, 0) + MS_E] / (nC), a linear
    combination of mean squares whose Satterthwaite df is (Σ c_j MS_j)² / Σ (c_j MS_j)²/df_j.

    Pseudo-count at the boundary: MS_B is computed with two extra clusters of weight
    ``pseudo`` each whose seed-mean influence is the lowest and the highest value the metric
    allows (value_range − estimate), as Jeffreys' prior adds half a success and half a failure.
    Where every image agrees (no error on 113 images, or two rows that differ on no image) the
    image part is then not 0, and a gap of a few discordant images keeps its McNemar-like
    width; on 3,000 images it changes the variance by about 1%. Off with ``pseudo=0`` or an
    infinite ``value_range``.
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
        note = "one seed: no seed part; the interval covers a new test set for this one training run only"
    else:
        row = table.mean(axis=-1)  # (..., n)
        grand = row.mean(-1)
        ms_a = n_cl * ((row - grand[..., None]) ** 2).sum(-1) / (n - 1.0)
        resid = table - row[..., None] - col[..., None, :] + grand[..., None, None]
        df_e = (n - 1.0) * (n_cl - 1.0)
        ms_e = (resid**2).sum((-1, -2)) / df_e if df_e > 0 else np.zeros_like(ms_a)
        use_a = ms_a >= ms_e
        use_b = ms_b >= ms_e
        c_a, c_b = use_a.astype(float), use_b.astype(float)
        c_e = 1.0 - c_a - c_b
        terms = np.stack([c_a * ms_a, c_b * ms_b, c_e * ms_e], axis=-1) / (n * n_cl)
        var = terms.sum(-1)
        dfs = np.stack(np.broadcast_arrays(n - 1.0, df_b, max(df_e, 1.0)), axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            denom = (terms**2 / dfs).sum(-1)
            df = np.where(denom > 0, var**2 / denom, np.inf)
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
    out = [mean, se, df, lo, hi, p, *parts]
    out = [float(x) if np.ndim(x) == 0 else np.asarray(x) for x in out]
    return TwoLevelEstimate(*out[:6], n, n_cl, *out[6:], level=level, note=note)


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
    Interval: Student t with Satterthwaite df; with finite ``bounds`` a Wilson-type score
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
) -> TwoLevelEstimate:
    """Paired difference x − y of two rows scored on the same images, seeds paired by index.

    x_outcomes, y_outcomes: as ``cell_mean``'s, with the same shapes (seed s of x is paired
    with seed s of y). The decomposition of ``cell_mean`` is applied to the per-(seed, image)
    differences: the test-set error both rows share cancels, the discordant images carry the
    image part (as in McNemar's test) and the seeds the rest. The pseudo-count sits at the
    ends of the difference's range, ±(hi − lo). Returns mean difference, se, df, CI (clipped to
    ±(hi − lo)) and the two-sided p of "no difference".
    """
    xs, ys = _as_splits(x_outcomes), _as_splits(y_outcomes)
    if [a.shape for a in xs] != [b.shape for b in ys]:
        raise ValueError("paired rows need the same splits, seeds and images")
    table, mean = _influence_table([a - b for a, b in zip(xs, ys)], clusters)
    width = bounds[1] - bounds[0]
    return _decompose(table, mean, (-width, width), pseudo, level, (-width, width))


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


# ----------------------------------------------------------------------------- many rows


def holm_adjust(p_values) -> np.ndarray:
    """Holm-adjusted p-values (step-down, monotone), NaN = not tested and left NaN.

    p: (m,) → (m,); reject at family-wise α where adjusted p ≤ α.
    """
    p = np.asarray(p_values, dtype=np.float64).ravel()
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = idx.size
    if m:
        order = idx[np.argsort(p[idx], kind="stable")]
        stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
        out[order] = np.minimum(stepped, 1.0)
    return out


def letter_display(separated, order=None) -> list[str]:
    """Compact letter display (Piepho 2004, J. Comput. Graph. Stat. 13:456-466, insert-absorb).

    separated: (K, K) symmetric bool, True where the test separates rows i and j. Returns one
    string of letters per row such that two rows share a letter iff they are not separated.
    Letters are named in ``order`` (best row first; default 0..K−1): 'a' is the letter of the
    best row. Two non-separated rows always share a letter and two separated rows never do,
    which integer tiers cannot both guarantee when "not separated" is not transitive.
    """
    sep = np.asarray(separated, dtype=bool)
    k = sep.shape[0]
    cols = np.ones((1, k), dtype=bool)  # letters × rows
    for i, j in zip(*np.nonzero(np.triu(sep | sep.T, 1))):
        both = cols[:, i] & cols[:, j]
        if not both.any():
            continue
        split = cols[both]
        no_i, no_j = split.copy(), split.copy()
        no_i[:, i] = False
        no_j[:, j] = False
        cols = np.concatenate([cols[~both], no_i, no_j])
        cols = _absorb(cols)
    rank = np.empty(k, dtype=int)
    rank[np.arange(k) if order is None else np.asarray(order)] = np.arange(k)
    first = np.where(cols, rank[None, :], k).min(axis=1)  # best row holding each letter
    cols = cols[np.lexsort((np.where(cols, rank[None, :], k).sum(1), first))]
    names = [_letter(i) for i in range(len(cols))]
    return ["".join(names[c] for c in range(len(cols)) if cols[c, r]) for r in range(k)]


def _absorb(cols: np.ndarray) -> np.ndarray:
    """Drop every letter whose rows are a subset of another letter's (and exact duplicates)."""
    cols = np.unique(cols, axis=0)
    sub = (cols[:, None, :] <= cols[None, :, :]).all(-1)  # [a, b]: a ⊆ b
    np.fill_diagonal(sub, False)
    return cols[~sub.any(1)]


def _letter(i: int) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    return alphabet[i] if i < 26 else _letter(i // 26 - 1) + alphabet[i % 26]


def rank_ranges(better) -> tuple[np.ndarray, np.ndarray]:
    """Rank range of each row: [1 + #rows significantly better, K − #rows significantly worse].

    better: (K, K) bool, [i, j] True where row i is significantly better than row j.
    """
    b = np.asarray(better, dtype=bool)
    k = b.shape[0]
    return 1 + b.sum(axis=0), k - b.sum(axis=1)


@dataclass(frozen=True)
class PairwiseResult:
    """All K(K−1)/2 paired tests of K rows and what they allow to say.

    means (K,); ``diff``, ``se``, ``df``, ``p``, ``p_holm`` (K, K) with [i, j] = row i − row j
    (antisymmetric diff, symmetric rest, NaN diagonal); ``separated`` (K, K) bool where the Holm-
    adjusted p ≤ alpha; ``better`` [i, j] where i is separated from j and ahead of it;
    ``order`` best row first; ``letters`` (K,) compact letter display; ``rank_lo``, ``rank_hi``
    (K,) rank ranges; ``pairs``: the TwoLevelEstimate of every pair, arrays (K, K).
    """

    means: np.ndarray
    diff: np.ndarray
    se: np.ndarray
    df: np.ndarray
    p: np.ndarray
    p_holm: np.ndarray
    separated: np.ndarray
    better: np.ndarray
    order: np.ndarray
    letters: list[str]
    rank_lo: np.ndarray
    rank_hi: np.ndarray
    pairs: TwoLevelEstimate


def all_pairs(
    rows,
    clusters=None,
    *,
    higher_is_better: bool = True,
    alpha: float = 0.05,
    bounds: tuple[float, float] = DEFAULT_BOUNDS,
    pseudo: float = DEFAULT_PSEUDO,
) -> PairwiseResult:
    """Every paired test between K rows, Holm-adjusted, with letters and rank ranges.

    rows: K rows, each a sequence of split arrays (n_seeds, N_k) as ``cell_mean`` takes them
    (the same seeds, splits and images for every row), or per split one array (K, n_seeds,
    N_k). One influence table per row is built once; pair tables are differences of those
    (the table is linear in the outcomes), so the cost is one vectorised pass over K² pairs.
    """
    if isinstance(rows, np.ndarray) or (len(rows) and isinstance(rows[0], np.ndarray) and rows[0].ndim == 3):
        splits = _as_splits(rows)
    else:
        per_row = [_as_splits(r) for r in rows]
        splits = [np.stack([r[k] for r in per_row]) for k in range(len(per_row[0]))]
    table, means = _influence_table(splits, clusters)  # (K, n, C), (K,)
    k = means.size
    width = bounds[1] - bounds[0]
    iu, ju = np.triu_indices(k, 1)
    pair = _decompose(table[iu] - table[ju], means[iu] - means[ju], (-width, width), pseudo, DEFAULT_LEVEL, None)

    def square(v, anti=False):
        out = np.full((k, k), np.nan)
        out[iu, ju] = v
        out[ju, iu] = -v if anti else v
        return out

    p_holm = square(holm_adjust(pair.p_value))
    diff = square(pair.mean, anti=True)
    separated = np.nan_to_num(p_holm, nan=1.0) <= alpha
    sign = 1.0 if higher_is_better else -1.0
    better = separated & (sign * diff > 0)
    order = np.argsort(-sign * means, kind="stable")
    rank_lo, rank_hi = rank_ranges(better)
    full = TwoLevelEstimate(
        diff,
        square(pair.se),
        square(pair.df),
        diff - _t_quantile(square(pair.df), DEFAULT_LEVEL) * square(pair.se),
        diff + _t_quantile(square(pair.df), DEFAULT_LEVEL) * square(pair.se),
        square(pair.p_value),
        pair.n_seeds,
        pair.n_clusters,
        square(pair.var_seed),
        square(pair.var_image),
        square(pair.var_residual),
        note=pair.note,
    )
    return PairwiseResult(
        means,
        diff,
        full.se,
        full.df,
        full.p_value,
        p_holm,
        separated,
        better,
        order,
        letter_display(separated, order),
        rank_lo,
        rank_hi,
        full,
    )


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

    σ_a²/n and σ_e²/(nC) scale with 1/n, σ_b²/C does not; df by Satterthwaite over the three
    parts with n'−1, C−1 and (n'−1)(C−1) df (the parts treated as independent mean squares, an
    approximation). NaN where the seed parts are unknown (one seed) or n_seeds < 2.
    """
    scale = est.n_seeds / float(n_seeds)
    parts = np.stack(
        np.broadcast_arrays(
            np.asarray(est.var_seed) * scale, np.asarray(est.var_image), np.asarray(est.var_residual) * scale
        ),
        axis=-1,
    )
    dfs = np.array([n_seeds - 1.0, est.n_clusters - 1.0, (n_seeds - 1.0) * (est.n_clusters - 1.0)])
    var = parts.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = (parts**2 / np.where(dfs > 0, dfs, np.nan)).sum(-1)
        df = np.where(denom > 0, var**2 / denom, np.inf)
    if n_seeds < 2:
        var, df = np.full_like(var, np.nan), np.full_like(var, np.nan)
    return np.sqrt(var), df


def suite_minimum_detectable_difference(
    result: PairwiseResult, n_seeds: int | None = None, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Minimum detectable difference of one benchmark at ``n_seeds`` seeds (default: the suite's).

    The median over the benchmark's K(K−1)/2 pairs of the paired SE (projected to n_seeds with
    ``projected``) and of its df, then ``minimum_detectable_difference`` (noncentral t).
    """
    iu = np.triu_indices(result.means.size, 1)
    se, df = projected(result.pairs, result.pairs.n_seeds if n_seeds is None else n_seeds)
    return float(minimum_detectable_difference(np.median(se[iu]), np.median(df[iu]), alpha=alpha, power=power))
