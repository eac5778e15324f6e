"""Hand-worked cases for regbench.report.stats (rliable's definitions)."""

import numpy as np
import pytest
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


def test_paired_difference():
    x = np.array([0.8, 0.7, 0.9])
    est = stats.paired_difference(x + 0.1, x, rng())
    assert est.mean == pytest.approx(0.1) and est.lo == pytest.approx(0.1) and est.hi == pytest.approx(0.1)
    with pytest.raises(ValueError, match="same seeds"):
        stats.paired_difference([1.0, 2.0], [1.0], rng())


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: stats.bootstrap_mean_ci([], rng()), "empty"),
        (lambda: stats.bootstrap_mean_ci([1.0, np.nan], rng()), "NaN"),
        (lambda: stats.bootstrap_mean_ci([1.0], rng(), level=1.5), "level"),
        (lambda: stats.bootstrap_mean_ci([1.0], rng(), reps=0), "reps"),
        (lambda: stats.probability_of_improvement([np.ones(2)], []), "number of tasks"),
        (lambda: stats.iqm([]), "empty"),
    ],
)
def test_bad_input_is_rejected_clearly(call, match):
    with pytest.raises(ValueError, match=match):
        call()
