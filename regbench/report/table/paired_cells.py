"""Accuracy cells, tiers, rank ranges and resolution from stored per-image outcomes.

Every regularizer of a benchmark is scored on the same test images, so the paired difference
of two rows, image by image and seed by seed, is the unit of evidence (docs/metrics.md,
"Two-level intervals and paired tests"):

- ``crossed_cells``: the accuracy cells (ID, OOD = mean over the OOD splits, per-family OOD)
  get their mean and interval from ``stats.crossed.cell_mean`` over the per-image outcomes
  with the images' cluster ids, so the correlation between splits is measured.
- ``benchmark_tests``: every pair of rows on the primary metric (``stats.pairwise.all_pairs``),
  Holm-adjusted, giving a compact letter display (tiers) and rank ranges, and the benchmark's
  minimum detectable difference (``stats.power``).
- ``suite_tests``: the same at suite level from the per-benchmark paired differences averaged
  over benchmarks (independent trainings on disjoint images: variances add).

Where no per-image outcomes are stored (old records, sequence tasks, a primary metric that is
not an accuracy), the pairs are tested on the per-seed numbers (paired t over seeds; a
zero-variance difference is no evidence) and the cells keep their seed + binomial interval.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats as _st

from regbench.report.stats import crossed, pairwise, power
from regbench.report.stats.moderation import NO_PRIOR, SeedPrior
from regbench.report.table.columns import FAMILY_PREFIX

ALPHA = 0.05  # family-wise level of the Holm-adjusted pairwise tests
POWER = 0.8  # the power the minimum detectable difference is stated at


@dataclass
class PairTests:
    """All pairs of ``regs`` on one benchmark (or the suite): (K, K) matrices [i, j] = row i − row j.

    ``letters`` (K,) compact letter display, ``rank_lo``/``rank_hi`` (K,) rank ranges,
    ``separated`` (K, K) bool (Holm-adjusted p ≤ ``ALPHA``); ``mdd`` the minimum detectable
    difference at ``n_seeds`` (NaN where unknown); ``per_image``: from per-image outcomes
    (else per-seed numbers).
    """

    regs: list[str]
    means: np.ndarray
    diff: np.ndarray
    se: np.ndarray
    df: np.ndarray
    p: np.ndarray
    separated: np.ndarray
    letters: list[str]
    rank_lo: np.ndarray
    rank_hi: np.ndarray
    n_seeds: int
    mdd: float
    per_image: bool
    mdd_5_seeds: float = float("nan")  # the same projected to 5 seeds (per-image estimates only)
    seed_prior: SeedPrior = NO_PRIOR  # the moderation of the pairs' seed parts (per-image estimates only)


def accuracy_splits(metrics: pd.DataFrame, run_keys) -> dict[str, list[str]]:
    """Column key → the test splits whose accuracy it averages, among the runs ``run_keys``.

    ``id_accuracy`` → test_id; ``ood_accuracy`` → every ``ood/`` split; ``ood_acc_<family>``
    → the OOD splits of that family (as ``run_rows`` averages them).
    """
    rows = metrics[(metrics["metric"] == "accuracy") & metrics["run_key"].isin(set(run_keys))]
    pairs = rows[["split", "family"]].drop_duplicates()
    out: dict[str, list[str]] = {}
    if (pairs["split"] == "test_id").any():
        out["id_accuracy"] = ["test_id"]
    ood = pairs[pairs["split"].astype(str).str.startswith("ood/")]
    if len(ood):
        out["ood_accuracy"] = sorted(ood["split"].unique())
        for fam, grp in ood.dropna(subset=["family"]).groupby("family"):
            out[FAMILY_PREFIX + str(fam)] = sorted(grp["split"].unique())
    return out


def _stack(outcomes: Mapping, run_keys: list[list[str]], splits: list[str]):
    """Per split (K, n, N_k) float outcomes of K rows × n seeds and the split's cluster ids (N_k,);
    None where a run lacks a split or the rows were not scored on the same images."""
    arrays, clusters = [], []
    for split in splits:
        got = [[outcomes.get((k, split)) for k in keys] for keys in run_keys]
        flat = [o for row in got for o in row]
        if any(o is None for o in flat) or len({o.fingerprint for o in flat}) != 1:
            return None
        sizes = {o.correct.size for o in flat}
        if len(sizes) != 1:
            return None
        arrays.append(np.array([[o.correct for o in row] for row in got], dtype=np.float64))
        clusters.append(flat[0].clusters)
    return arrays, clusters


def _cells_of(ok: pd.DataFrame, bench: str) -> dict[str, list[str]]:
    """regularizer → its ok run keys on ``bench``, by seed."""
    sub = ok[ok["benchmark"] == bench].sort_values(["regularizer", "seed"], kind="stable")
    return {r: list(g["run_key"]) for r, g in sub.groupby("regularizer", sort=True)}


def crossed_cells(cells, ok: pd.DataFrame, metrics: pd.DataFrame, outcomes: Mapping, keys, benches, regs, level):
    """Replace the accuracy cells of ``cells`` (CellArrays, in place) by ``crossed.cell_mean``.

    ok: the ok runs (run_key, benchmark, regularizer, seed); outcomes: ``Store.outcomes``.
    A cell gets the two-level estimate when it has ≥ 2 seeds, every run stored every split of
    the column, and every run recorded the column (else it keeps the seed + binomial interval).
    ``seed_var`` then holds the cell's whole variance (se²), ``samp_var`` 0 and ``df`` its
    Satterthwaite df, so the suite-level mean adds the benchmarks' variances.
    """
    if not outcomes:
        return
    r_index = {r: i for i, r in enumerate(regs)}
    for b, bench in enumerate(benches):
        by_reg = _cells_of(ok, bench)
        split_sets = accuracy_splits(metrics, [k for ks in by_reg.values() for k in ks])
        for key, splits in split_sets.items():
            if key not in keys:
                continue
            j = keys.index(key)
            groups: dict[int, list[str]] = {}
            for reg, run_keys in by_reg.items():
                n = len(run_keys)
                if n >= 2 and cells.count[b, r_index[reg], j] == n:
                    groups.setdefault(n, []).append(reg)
            for group in groups.values():  # rows with the same seed count: one vectorised call
                stacked = _stack(outcomes, [by_reg[r] for r in group], splits)
                if stacked is None:
                    continue
                est = crossed.cell_mean(stacked[0], stacked[1], level=level)
                ri = [r_index[r] for r in group]
                cells.mean[b, ri, j], cells.lo[b, ri, j], cells.hi[b, ri, j] = est.mean, est.lo, est.hi
                cells.seed_var[b, ri, j], cells.samp_var[b, ri, j], cells.df[b, ri, j] = est.se**2, 0.0, est.df


def _decide(regs, means, diff, se, df, p, higher: bool, n_seeds: int, mdd: float, per_image: bool) -> PairTests:
    """Holm over the K(K−1)/2 pairs, then letters (best first by mean) and rank ranges."""
    k = len(regs)
    iu = np.triu_indices(k, 1)
    p_holm = np.full((k, k), np.nan)
    p_holm[iu] = pairwise.holm_adjust(p[iu])
    p_holm.T[iu] = p_holm[iu]
    separated = np.nan_to_num(p_holm, nan=1.0) <= ALPHA
    sign = 1.0 if higher else -1.0
    better = separated & (sign * np.nan_to_num(diff) > 0)
    order = np.argsort(-sign * means, kind="stable")
    lo, hi = pairwise.rank_ranges(better, separated)
    letters = pairwise.letter_display(separated, order)
    return PairTests(list(regs), means, diff, se, df, p, separated, letters, lo, hi, n_seeds, mdd, per_image)


def _seed_level(values: np.ndarray):
    """(diff, se, df, p) matrices of paired t tests over seeds; values (K, n). A pair whose
    per-seed differences are all equal has no spread to test against: p = 1 (no evidence)."""
    d = values[:, None, :] - values[None, :, :]  # (K, K, n)
    n = values.shape[1]
    mean = d.mean(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = d.std(-1, ddof=1) / np.sqrt(n)
        t = np.abs(mean) / se
        p = np.where(se > 1e-12, 2.0 * _st.t.sf(t, n - 1), 1.0)
    df = np.full(mean.shape, n - 1.0)
    np.fill_diagonal(p, np.nan)
    return mean, se, df, p


def benchmark_tests(
    ok: pd.DataFrame, metrics: pd.DataFrame, outcomes: Mapping, bench: str, key: str, higher: bool
) -> PairTests | None:
    """Every pair of regularizers on ``bench`` on column ``key`` (the primary metric).

    Rows need ≥ 2 ok seeds; the seeds every such row has are the pairs (seed s of one row
    with seed s of the other). Per-image outcomes when ``key`` is an accuracy column and every
    run stored them, else per-seed numbers. None when fewer than 2 rows or 2 common seeds.
    """
    by_reg = _cells_of(ok, bench)
    here = ok[ok["benchmark"] == bench]
    seeds_of = {r: here.loc[here["regularizer"] == r, ["run_key", "seed"]] for r in by_reg}
    regs = [r for r, ks in by_reg.items() if len(ks) >= 2]
    if len(regs) < 2:
        return None
    common = sorted(set.intersection(*(set(seeds_of[r]["seed"]) for r in regs)))
    if len(common) < 2:
        return None
    keyed = {r: dict(zip(seeds_of[r]["seed"], seeds_of[r]["run_key"])) for r in regs}
    run_keys = [[keyed[r][s] for s in common] for r in regs]
    splits = accuracy_splits(metrics, [k for ks in run_keys for k in ks]).get(key)
    stacked = _stack(outcomes, run_keys, splits) if (splits and outcomes) else None
    if stacked is not None:
        res = pairwise.all_pairs(stacked[0], stacked[1], higher_is_better=higher, alpha=ALPHA)
        mdd = power.suite_minimum_detectable_difference(res, alpha=ALPHA, power=POWER)
        mdd5 = power.suite_minimum_detectable_difference(res, 5, alpha=ALPHA, power=POWER)
        tests = _decide(regs, res.means, res.diff, res.se, res.df, res.p, higher, len(common), mdd, True)
        return replace(tests, mdd_5_seeds=mdd5, seed_prior=res.seed_prior)
    here = ok[ok["benchmark"] == bench]  # one run may serve two benchmarks with identical data
    values = here.drop_duplicates("run_key").set_index("run_key")[key]
    v = np.array([[values[k] for k in ks] for ks in run_keys], dtype=np.float64)
    if not np.isfinite(v).all():
        return None
    diff, se, df, p = _seed_level(v)
    iu = np.triu_indices(len(regs), 1)
    typical = float(np.sqrt(np.nanmean(np.square(se[iu]))))  # root mean variance, as power.py
    mdd = float(power.minimum_detectable_difference(typical, len(common) - 1.0, alpha=ALPHA, power=POWER))
    return _decide(regs, v.mean(1), diff, se, df, p, higher, len(common), mdd, False)


def suite_tests(per_bench: Mapping[str, PairTests], higher: bool) -> PairTests | None:
    """Pairs at suite level: per pair the mean over benchmarks of its paired differences.

    Only rows tested on every benchmark in ``per_bench``. Var = Σ_b se_b² / B² (the benchmarks
    are independent trainings on disjoint images), Satterthwaite df, two-sided t p-value.
    """
    tests = [t for t in per_bench.values() if t is not None]
    if not tests:
        return None
    regs = [r for r in tests[0].regs if all(r in t.regs for t in tests)]
    if len(regs) < 2:
        return None
    idx = [np.array([t.regs.index(r) for r in regs]) for t in tests]
    nb = len(tests)

    def stack(field):
        return np.stack([getattr(t, field)[np.ix_(i, i)] for t, i in zip(tests, idx)])

    diff = stack("diff").mean(0)
    parts = stack("se") ** 2 / nb**2
    var = parts.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        df = var**2 / (parts**2 / stack("df")).sum(0)
        se = np.sqrt(var)
        p = np.where(se > 0, 2.0 * _st.t.sf(np.abs(diff) / se, np.where(np.isfinite(df), df, 1e9)), 1.0)
    np.fill_diagonal(p, np.nan)
    means = np.mean([t.means[i] for t, i in zip(tests, idx)], axis=0)
    per_image = all(t.per_image for t in tests)
    return _decide(regs, means, diff, se, df, p, higher, min(t.n_seeds for t in tests), np.nan, per_image)


def put_tiers(frame: pd.DataFrame, tests: PairTests | None) -> pd.DataFrame:
    """``rank`` (best possible rank), ``rank_hi`` (worst) and ``tier`` (letters) on ``frame``'s rows
    (one benchmark's, or the suite's) from ``tests``; rows it did not test get none (NaN, "")."""
    frame = frame.copy()
    lo = hi = {}
    tier: dict[str, str] = {}
    if tests is not None:
        lo = dict(zip(tests.regs, tests.rank_lo.astype(float)))
        hi = dict(zip(tests.regs, tests.rank_hi.astype(float)))
        tier = dict(zip(tests.regs, tests.letters))
    frame["rank"] = frame["regularizer"].map(lo).astype(float)
    frame["rank_hi"] = frame["regularizer"].map(hi).astype(float)
    frame["tier"] = frame["regularizer"].map(tier).fillna("").astype(object)
    return frame
