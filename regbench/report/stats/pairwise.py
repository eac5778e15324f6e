"""Every pair of rows tested, Holm-adjusted, and what a table may say from those tests.

Tiers are a compact letter display (Piepho 2004): two rows share a letter exactly when the
paired tests do not separate them; rank ranges follow from who is significantly better
(docs/metrics.md, "Two-level intervals and paired tests").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from regbench.report.stats.crossed import (
    DEFAULT_BOUNDS,
    DEFAULT_LEVEL,
    DEFAULT_PSEUDO,
    TwoLevelEstimate,
    _as_splits,
    _decompose,
    _influence_table,
    _t_quantile,
    seed_mean_square,
)
from regbench.report.stats.moderation import NO_PRIOR, SeedPrior, fit_seed_prior

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
    cols = _sweep(cols)
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


def _sweep(cols: np.ndarray) -> np.ndarray:
    """Piepho's sweep: drop, smallest first, every letter whose pairs of rows (and each of its
    rows) another kept letter still covers. Insert-absorb leaves every maximal clique of the
    not-separated rows, dozens when that relation is far from transitive; each letter dropped
    here is redundant, so "share a letter iff not separated" still holds with fewer letters."""
    keep = list(range(len(cols)))
    for letter in sorted(range(len(cols)), key=lambda i: (int(cols[i].sum()), i)):
        others = cols[[m for m in keep if m != letter]]
        if not len(others):
            break
        cover = others[:, cols[letter]].astype(np.int64)  # other letters × this letter's rows
        if ((cover.T @ cover) > 0).all():  # every pair (and row) still shares another letter
            keep.remove(letter)
    return cols[keep]


def _letter(i: int) -> str:
    """a–z, then A–Z, then [52], [53] …: one token per letter, so a row's string never reads two
    ways ("ab" after z would be either a + b or the 28th letter)."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return alphabet[i] if i < len(alphabet) else f"[{i}]"


def rank_ranges(better, separated=None) -> tuple[np.ndarray, np.ndarray]:
    """Rank range of each row: [1 + #rows significantly better, K − #rows significantly worse].

    better: (K, K) bool, [i, j] True where row i is significantly better than row j.
    ``separated`` (K, K) bool: then each worst rank is widened to at least the best rank of every
    row it is not separated from. Two rows the tests cannot order may be in either order, so
    their ranges must overlap; with non-transitive separations (a beats c, c ties b, a ties b)
    the counts alone can leave a gap between them.
    """
    b = np.asarray(better, dtype=bool)
    k = b.shape[0]
    lo, hi = 1 + b.sum(axis=0), k - b.sum(axis=1)
    if separated is not None:
        tied = ~np.asarray(separated, dtype=bool)
        np.fill_diagonal(tied, True)
        hi = np.maximum(hi, np.where(tied, lo[None, :], 0).max(axis=1))
    return lo, hi


@dataclass(frozen=True)
class PairwiseResult:
    """All K(K−1)/2 paired tests of K rows and what they allow to say.

    means (K,); ``diff``, ``se``, ``df``, ``p``, ``p_holm`` (K, K) with [i, j] = row i − row j
    (antisymmetric diff, symmetric rest, NaN diagonal); ``separated`` (K, K) bool where the Holm-
    adjusted p ≤ alpha; ``better`` [i, j] where i is separated from j and ahead of it;
    ``order`` best row first; ``letters`` (K,) compact letter display; ``rank_lo``, ``rank_hi``
    (K,) rank ranges; ``pairs``: the TwoLevelEstimate of every pair, arrays (K, K);
    ``seed_prior``: the moderation every pair's seed part got (``stats.moderation``).
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
    seed_prior: SeedPrior = NO_PRIOR


def all_pairs(
    rows,
    clusters=None,
    *,
    higher_is_better: bool = True,
    alpha: float = 0.05,
    bounds: tuple[float, float] = DEFAULT_BOUNDS,
    pseudo: float = DEFAULT_PSEUDO,
    moderate: bool = True,
) -> PairwiseResult:
    """Every paired test between K rows, Holm-adjusted, with letters and rank ranges.

    rows: K rows, each a sequence of split arrays (n_seeds, N_k) as ``cell_mean`` takes them
    (the same seeds, splits and images for every row), or per split one array (K, n_seeds,
    N_k). One influence table per row is built once; pair tables are differences of those
    (the table is linear in the outcomes), so the cost is one vectorised pass over K² pairs.
    ``moderate``: the pairs' seed mean squares share one empirical-Bayes prior fitted on all of
    them (``stats.moderation``); False tests each pair on its own n − 1 seed df.
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
    pair_tables = table[iu] - table[ju]
    n_seeds = table.shape[1]
    prior = NO_PRIOR
    if moderate and n_seeds > 1:  # s0² is known to the rows × seeds table's (n − 1)(K − 1) df at most
        prior = fit_seed_prior(seed_mean_square(pair_tables), n_seeds - 1.0, (n_seeds - 1.0) * (k - 1.0))
    pair = _decompose(pair_tables, means[iu] - means[ju], (-width, width), pseudo, DEFAULT_LEVEL, None, prior)

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
    rank_lo, rank_hi = rank_ranges(better, separated)
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
        seed_prior=prior,
        seed_df=square(pair.seed_df),
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
        prior,
    )
