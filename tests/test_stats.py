"""Hand-worked cases for regbench.report.stats (rliable's definitions)."""

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats
from scipy.special import ndtri
from scipy.stats import trim_mean

from regbench.report import stats


def rng(seed=0):
    return np.random.default_rng(seed)


def test_iqm_hand_array_and_scipy_semantics():
    # 8 scores: drop int(0.25*8)=2 from each end -> mean(3, 4, 5, 6) = 4.5
    assert stats.iqm([8, 1, 7, 2, 6, 3, 5, 4]) == pytest.approx(4.5)
    # 10 scores: cut int(2.5)=2 each end -> mean(2..7) = 4.5 ; outlier ignored
    a = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 1000.0])
    assert stats.iqm(a) == pytest.approx(4.5)
    m = rng().normal(size=(7, 5))  # runs x tasks: pooled like rliable (axis=None)
    assert stats.iqm(m) == pytest.approx(trim_mean(m, 0.25, axis=None))
    assert np.allclose(stats.iqm(m, axis=0), trim_mean(m, 0.25, axis=0))


def test_iqm_from_counts_equals_iqm_of_the_resample():
    g = rng(1)
    values = g.normal(size=13)
    counts = stats.resample_counts(13, g, 50)
    expected = [stats.iqm(np.repeat(values, c.astype(int))) for c in counts]
    assert np.allclose(stats.iqm_from_counts(values, counts), expected)


def test_probability_of_improvement_hand_cases():
    x, y = [np.array([5.0, 6, 7])], [np.array([1.0, 2, 3, 4])]
    assert stats.probability_of_improvement(x, y) == 1.0
    assert stats.probability_of_improvement(y, x) == 0.0
    assert stats.probability_of_improvement(x, x) == 0.5
    # pairs (1,1)=.5 (1,3)=0 (2,1)=1 (2,3)=0 -> 0.375 ; second task 1.0 -> mean 0.6875
    xs = [np.array([1.0, 2]), np.array([9.0])]
    ys = [np.array([1.0, 3]), np.array([0.0])]
    assert stats.probability_of_improvement(xs, ys) == pytest.approx(0.6875)


def test_poi_from_counts_equals_poi_of_the_resample():
    g = rng(2)
    x, y = g.integers(0, 4, 6).astype(float), g.integers(0, 4, 5).astype(float)  # many ties
    cx, cy = stats.resample_counts(6, g, 40), stats.resample_counts(5, g, 40)
    got = stats.poi_from_counts(x, y, cx, cy)
    want = [
        stats.probability_of_improvement([np.repeat(x, a.astype(int))], [np.repeat(y, b.astype(int))])
        for a, b in zip(cx, cy)
    ]
    assert np.allclose(got, want)


def test_poi_ci_bounds_and_identical_samples():
    xs = [np.array([5.0, 6, 7])] * 2
    est = stats.probability_of_improvement_ci(xs, [np.array([1.0, 2])] * 2, rng(), reps=200)
    assert (est.mean, est.lo, est.hi) == (1.0, 1.0, 1.0)
    same = stats.probability_of_improvement_ci(xs, xs, rng(), reps=200)
    assert same.mean == 0.5 and same.lo <= 0.5 <= same.hi


def test_bootstrap_ci_contains_mean_and_is_deterministic():
    x = np.array([0.91, 0.93, 0.90, 0.95, 0.92])
    a = stats.bootstrap_mean_ci(x, rng(7))
    assert a.mean == pytest.approx(0.922) and a.n == 5
    assert a.lo < a.mean < a.hi and x.min() <= a.lo and a.hi <= x.max()
    assert a == stats.bootstrap_mean_ci(x, rng(7))
    assert not np.array_equal(stats.bootstrap_means(x, rng(7), 20), stats.bootstrap_means(x, rng(8), 20))
    const = stats.bootstrap_mean_ci([0.5] * 4, rng())
    assert const.lo == const.hi == const.mean == 0.5


def test_bootstrap_means_skips_missing_values():
    v = np.array([[1.0, np.nan], [3.0, 4.0], [5.0, 8.0]])
    g = rng(3)
    counts = stats.resample_counts(3, g, 30)
    got = stats.bootstrap_means(v, g, 30, counts=counts)
    for c, row in zip(counts, got):
        sample = np.repeat(v, c.astype(int), axis=0)
        with np.errstate(invalid="ignore"):
            assert np.allclose(
                row,
                np.nanmean(sample, axis=0) if np.isfinite(sample[:, 1]).any() else [sample[:, 0].mean(), np.nan],
                equal_nan=True,
            )


def test_stratified_bootstrap_resamples_within_strata():
    # pooled mean is always exactly 0.5 when each stratum keeps its size; an unstratified
    # bootstrap of the pooled 6 values would vary
    reps = stats.stratified_bootstrap([np.zeros(3), np.ones(3)], lambda p: p.mean(axis=1), rng(), 100)
    assert np.all(reps == 0.5)
    est = stats.iqm_ci([np.arange(5.0), np.arange(5.0) + 10], rng(), 300)
    assert est.lo <= est.mean <= est.hi and est.n == 10
    assert est == stats.iqm_ci([np.arange(5.0), np.arange(5.0) + 10], rng(), 300)


def test_average_and_mean_ranks():
    s = np.array([[3.0, 1.0, 3.0, np.nan], [1.0, 2.0, 3.0, 4.0]])
    r = stats.average_ranks(s)
    assert np.allclose(r[0], [1.5, 3, 1.5, np.nan], equal_nan=True)
    assert np.allclose(r[1], [4, 3, 2, 1])
    assert np.allclose(stats.average_ranks(s[1:], higher_is_better=False)[0], [1, 2, 3, 4])
    assert np.allclose(stats.mean_rank(s), [2.75, 3.0, 1.75, 1.0])


def test_paired_difference_is_a_paired_t_interval():
    # differences .01 .02 .03: mean .02, sd .01, t_{0.975, 2} = 4.303
    d = stats.paired_difference([0.51, 0.52, 0.53], [0.50, 0.50, 0.50])
    half = 4.302653 * 0.01 / math.sqrt(3)
    assert (d.mean, d.lo, d.hi, d.n) == pytest.approx((0.02, 0.02 - half, 0.02 + half, 3))
    assert d.p_value == pytest.approx(scipy_stats.ttest_rel([0.51, 0.52, 0.53], [0.5] * 3).pvalue)
    # a constant shift is certain; a missing side drops its pair; one pair gives no interval
    shift = stats.paired_difference([0.9, 0.8, 0.7], [0.8, 0.7, 0.6])
    assert shift.lo == pytest.approx(0.1) and shift.hi == pytest.approx(0.1) and shift.p_value == 0.0
    one = stats.paired_difference([0.9, math.nan], [0.1, 0.2])
    assert one.n == 1 and (one.lo, one.hi, one.p_value) == (-math.inf, math.inf, 1.0)
    with pytest.raises(ValueError, match="same seeds"):
        stats.paired_difference([1.0, 2.0], [1.0])


def test_t_interval_adds_the_split_error_and_is_zero_width_only_for_equal_seeds():
    est = stats.mean_interval([0.80, 0.82, 0.84])
    half = scipy_stats.t.ppf(0.975, 2) * 0.02 / math.sqrt(3)
    assert (est.lo, est.hi) == pytest.approx((0.82 - half, 0.82 + half))
    binom = stats.binomial_variance(0.82, 450)
    wider = stats.mean_interval([0.80, 0.82, 0.84], binom)
    assert wider.hi - wider.mean == pytest.approx(scipy_stats.t.ppf(0.975, 2) * math.sqrt(0.02**2 / 3 + binom))
    same = stats.mean_interval([0.7, 0.7, 0.7])
    assert same.lo == same.hi == pytest.approx(0.7)  # every seed agrees and no split error
    assert stats.mean_interval([0.7, 0.7, 0.7], stats.binomial_variance(0.7, 450)).lo < 0.7
    single = stats.mean_interval([0.7, math.nan])
    assert single.n == 1 and math.isnan(single.lo) and math.isnan(single.hi)
    # vectorized over cells: each row is its own cell
    m, lo, hi, n = stats.t_interval(np.array([[0.80, 0.82, 0.84], [0.5, 0.5, np.nan]]))
    assert list(n) == [2 + 1, 2] and lo[0] == pytest.approx(est.lo) and lo[1] == hi[1] == 0.5


def _simulated_cells(rng, n_seeds, seed_noise, cells=2000, n_test=450, correlation=0.8, mean=0.85, sd=0.03):
    """Accuracies of ``cells`` x ``n_seeds`` runs, each scored on one test split per cell.

    Every image has a difficulty shared by all seeds (``correlation``), so the seeds' errors
    on the one split are correlated, as with a real split. Seed s has population accuracy
    mean + sd * noise_s; the true cell mean is ``mean``. Returns (cells, n_seeds) accuracies.
    """
    p = mean + sd * seed_noise((cells, n_seeds))
    difficulty = rng.standard_normal((cells, 1, n_test))
    own = rng.standard_normal((cells, n_seeds, n_test))
    correct = np.sqrt(correlation) * difficulty + np.sqrt(1 - correlation) * own < ndtri(p)[..., None]
    return correct.mean(axis=-1)


@pytest.mark.parametrize("n_seeds", [3, 5])
@pytest.mark.parametrize("shape", ["normal", "skewed"])
def test_cell_intervals_cover_the_true_mean(n_seeds, shape):
    g = rng(n_seeds)
    noise = {
        "normal": g.standard_normal,
        # skewness -1.4: most seeds near the top, an occasional bad one (gamma, shape 2)
        "skewed": lambda size: -(g.gamma(2.0, size=size) - 2.0) / math.sqrt(2.0),
    }[shape]
    acc = _simulated_cells(g, n_seeds, noise)
    m, lo, hi, _ = stats.t_interval(acc, stats.binomial_variance(acc.mean(axis=1), 450))
    covered = np.mean((lo <= 0.85) & (0.85 <= hi))
    assert covered >= 0.93, covered
    # the old percentile bootstrap over seeds misses far more often on the same cells
    boot = stats.bootstrap_means(acc.T, g, 500)
    b_lo, b_hi = stats.percentile_interval(boot)
    assert np.mean((b_lo <= 0.85) & (0.85 <= b_hi)) < covered


def test_seed_only_t_interval_covers_normal_scores():
    g = rng(11)
    for n in (3, 5):
        x = 0.8 + 0.02 * g.standard_normal((2000, n))
        _, lo, hi, _ = stats.t_interval(x)
        assert np.mean((lo <= 0.8) & (0.8 <= hi)) >= 0.93


def test_holm_step_down():
    # sorted p .01 .02 .03 .04 against .05/4 .05/3 .05/2 .05/1: only the first is rejected
    assert list(stats.holm([0.03, 0.01, 0.04, 0.02])) == [False, True, False, False]
    assert list(stats.holm([0.001, 0.012, 0.02])) == [True, True, True]  # .012 <= .05/2, .02 <= .05
    assert list(stats.holm([0.04, math.nan])) == [True, False]  # an untested one does not count
    assert not stats.holm([0.02] * 5).any()  # each alone would pass at .05; together none does


def test_holm_keeps_the_family_wise_error_under_alpha():
    g = rng(5)
    null_p = g.uniform(size=(4000, 5))  # 5 true nulls per family
    any_reject = np.mean([stats.holm(p).any() for p in null_p])
    assert any_reject <= 0.06 and np.mean((null_p < 0.05).any(axis=1)) > 0.2


def test_overlap_tiers():
    lo = np.array([0.80, 0.79, 0.70, 0.69, np.nan, 0.50])
    hi = np.array([0.90, 0.85, 0.82, 0.75, np.nan, 0.60])
    # rows 1 and 2 overlap the leader (row 0); row 3 does not and leads tier 1; row 5 misses
    # row 3; a row without an interval is a tier of its own
    assert list(stats.overlap_tiers(lo, hi)) == [0, 0, 0, 1, 2, 3]
    # overlapping a tied row is not enough: row 2 overlaps row 1 but not the leader
    assert list(stats.overlap_tiers([0.8, 0.7, 0.6], [0.9, 0.81, 0.75])) == [0, 0, 1]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: stats.bootstrap_mean_ci([], rng()), "empty"),
        (lambda: stats.bootstrap_mean_ci([1.0, np.nan], rng()), "NaN"),
        (lambda: stats.bootstrap_mean_ci([1.0], rng(), level=1.5), "level"),
        (lambda: stats.bootstrap_mean_ci([1.0], rng(), reps=0), "reps"),
        (lambda: stats.probability_of_improvement([np.ones(2)], []), "number of tasks"),
        (lambda: stats.paired_difference([1.0, 2.0], [1.0, 2.0], level=0.0), "level"),
        (lambda: stats.iqm([]), "empty"),
    ],
)
def test_bad_input_is_rejected_clearly(call, match):
    with pytest.raises(ValueError, match=match):
        call()
