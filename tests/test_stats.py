"""Hand-worked cases for regbench.report.stats and its bootstrap (rliable's definitions)."""

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats
from scipy.special import ndtri
from scipy.stats import trim_mean

from regbench.report import stats
from regbench.report.stats import bootstrap


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
    counts = bootstrap.resample_counts(13, g, 50)
    expected = [stats.iqm(np.repeat(values, c.astype(int))) for c in counts]
    assert np.allclose(bootstrap.iqm_from_counts(values, counts), expected)


def test_probability_of_improvement_hand_cases():
    x, y = [np.array([5.0, 6, 7])], [np.array([1.0, 2, 3, 4])]
    assert stats.probability_of_improvement(x, y) == 1.0
    assert stats.probability_of_improvement(y, x) == 0.0
    assert stats.probability_of_improvement(x, x) == 0.5
    # pairs (1,1)=.5 (1,3)=0 (2,1)=1 (2,3)=0 -> 0.375 ; second task 1.0 -> mean 0.6875
    xs = [np.array([1.0, 2]), np.array([9.0])]
    ys = [np.array([1.0, 3]), np.array([0.0])]
    assert stats.probability_of_improvement(xs, ys) == pytest.approx(0.6875)


def test_poi_interval_is_not_degenerate_when_one_side_wins_every_pair():
    """rliable's bootstrap printed 1.00 [1.00, 1.00] here: every resample also wins every pair."""
    xs, ys = [np.array([5.0, 6, 7])] * 2, [np.array([1.0, 2, 3])] * 2
    est = stats.probability_of_improvement_ci(xs, ys)
    assert est.mean == 1.0 and est.hi == 1.0 and 0.5 < est.lo < 0.95 and est.n == 6
    lose = stats.probability_of_improvement_ci(ys, xs)
    assert lose.mean == 0.0 and lose.lo == 0.0 and 0.05 < lose.hi < 0.5
    assert lose.hi == pytest.approx(1 - est.lo)  # symmetric in theta <-> 1 - theta
    # wins every pair on one benchmark, loses every pair on the other: 0.50, but not [0.50, 0.50]
    split = stats.probability_of_improvement_ci([xs[0], ys[0]], [ys[0], xs[0]])
    assert split.mean == 0.5 and split.lo < 0.3 and split.hi > 0.7
    same = stats.probability_of_improvement_ci(xs, xs)
    assert same.mean == 0.5 and same.lo < 0.5 < same.hi
    # more seeds, narrower; a missing task is skipped; no task at all gives NaN
    five = stats.probability_of_improvement_ci([np.arange(5.0) + 10], [np.arange(5.0)])
    three = stats.probability_of_improvement_ci([xs[0]], [ys[0]])
    assert five.lo > three.lo
    assert stats.probability_of_improvement_ci([xs[0], np.array([np.nan])], [ys[0], ys[0]]) == three
    assert math.isnan(stats.probability_of_improvement_ci([np.array([np.nan])], [ys[0]]).lo)


def test_auc_variance_is_hanley_mcneil_with_the_mean_sample_size():
    # m = n: Newcombe's N* = n, so it equals Hanley & McNeil (1982) with Q1 = t/(2-t), Q2 = 2t²/(1+t)
    t, m = 0.7, 4
    q1, q2 = t / (2 - t), 2 * t * t / (1 + t)
    hm = (t * (1 - t) + (m - 1) * (q1 - t * t) + (m - 1) * (q2 - t * t)) / (m * m)
    assert stats.auc_variance(t, m, m) == pytest.approx(hm)
    assert stats.auc_variance(0.0, 3, 3) == 0.0 == stats.auc_variance(1.0, 3, 3)


@pytest.mark.parametrize("n_seeds", [3, 5])
def test_poi_interval_covers_the_true_probability(n_seeds):
    """2,000 simulated P(>erm) per setting: scores normal with a shift giving P(X > Y) = theta,
    on 1 and on 4 benchmarks. The 95% score interval covers theta in >= 93% of them for every
    theta (measured 95.4-100%), also at 0.5 where a 3-seed sweep (AUC 0 or 1) happens 1 time
    in 10; the one-cell call agrees with the vectorized one."""
    from scipy.special import ndtri as probit

    g = rng(20 + n_seeds)
    for n_bench in (1, 4):
        for theta in (0.5, 0.7, 0.9, 0.97):
            shift = probit(theta) * math.sqrt(2)
            x = g.standard_normal((2000, n_bench, n_seeds)) + shift
            y = g.standard_normal((2000, n_bench, n_seeds))
            auc = (x[..., :, None] > y[..., None, :]).mean(axis=(-1, -2))  # (2000, benchmarks)
            lo, hi = stats.poi_score_interval(auc, n_seeds, n_seeds)
            hits = (lo <= theta) & (theta <= hi)
            assert np.mean(hits) >= 0.93, (n_bench, theta, np.mean(hits))
            one = stats.probability_of_improvement_ci(list(x[0]), list(y[0]))
            assert (one.lo, one.hi) == pytest.approx((lo[0], hi[0]))


def test_bootstrap_ci_contains_mean_and_is_deterministic():
    x = np.array([0.91, 0.93, 0.90, 0.95, 0.92])
    a = bootstrap.bootstrap_mean_ci(x, rng(7))
    assert a.mean == pytest.approx(0.922) and a.n == 5
    assert a.lo < a.mean < a.hi and x.min() <= a.lo and a.hi <= x.max()
    assert a == bootstrap.bootstrap_mean_ci(x, rng(7))
    assert not np.array_equal(bootstrap.bootstrap_means(x, rng(7), 20), bootstrap.bootstrap_means(x, rng(8), 20))
    const = bootstrap.bootstrap_mean_ci([0.5] * 4, rng())
    assert const.lo == const.hi == const.mean == 0.5


def test_bootstrap_means_skips_missing_values():
    v = np.array([[1.0, np.nan], [3.0, 4.0], [5.0, 8.0]])
    g = rng(3)
    counts = bootstrap.resample_counts(3, g, 30)
    got = bootstrap.bootstrap_means(v, g, 30, counts=counts)
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
    reps = bootstrap.stratified_bootstrap([np.zeros(3), np.ones(3)], lambda p: p.mean(axis=1), rng(), 100)
    assert np.all(reps == 0.5)
    est = bootstrap.iqm_ci([np.arange(5.0), np.arange(5.0) + 10], rng(), 300)
    assert est.lo <= est.mean <= est.hi and est.n == 10
    assert est == bootstrap.iqm_ci([np.arange(5.0), np.arange(5.0) + 10], rng(), 300)


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
    # Welch-Satterthwaite: the known binomial part has infinite df, the seeds' part n - 1 = 2
    a = 0.02**2 / 3
    df = (a + binom) ** 2 / (a**2 / 2)
    assert 2 < df < 30
    assert wider.hi - wider.mean == pytest.approx(scipy_stats.t.ppf(0.975, df) * math.sqrt(a + binom))
    # seeds that agree leave only the known part: the normal quantile, not t_2 = 4.30
    known_only = stats.mean_interval([0.7, 0.7, 0.7], stats.binomial_variance(0.7, 450))
    assert known_only.hi - 0.7 == pytest.approx(1.959964 * math.sqrt(0.7 * 0.3 / 450))
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
    p = np.clip(mean + sd * seed_noise((cells, n_seeds)), 0.0, 1.0 - 1e-12)  # a population accuracy
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
    boot = bootstrap.bootstrap_means(acc.T, g, 500)
    b_lo, b_hi = bootstrap.percentile_interval(boot)
    assert np.mean((b_lo <= 0.85) & (0.85 <= b_hi)) < covered


def test_intervals_near_the_ceiling_are_clipped_and_still_cover():
    """True mean 97%, 3 seeds: one in five unclipped t + binomial intervals end above 100%; clipped to
    the accuracy column's [0, 1] they end at 1 at most and cover as often as before (>= 93%)."""
    from regbench.report.table.columns import COLUMNS

    col = next(c for c in COLUMNS if c.key == "id_accuracy")
    g = rng(97)
    acc = _simulated_cells(g, 3, g.standard_normal, mean=0.97, sd=0.01)
    _, lo, hi, _ = stats.t_interval(acc, stats.binomial_variance(acc.mean(axis=1), 450))
    assert np.mean(hi > 1.0) > 0.1  # the case the clip is for (20% of these cells)
    c_lo, c_hi = col.clip(lo, hi)
    assert c_hi.max() <= 1.0 and c_lo.min() >= 0.0 and np.all(c_lo < c_hi)
    covered = np.mean((c_lo <= 0.97) & (0.97 <= c_hi))
    assert covered == np.mean((lo <= 0.97) & (0.97 <= hi)) and covered >= 0.93, covered
    # unbounded columns (drops, gaps) are left alone
    drop = next(c for c in COLUMNS if c.key == "ood_drop")
    assert drop.clip(-0.5, 1.5) == (-0.5, 1.5)


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


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: bootstrap.bootstrap_mean_ci([], rng()), "empty"),
        (lambda: bootstrap.bootstrap_mean_ci([1.0, np.nan], rng()), "NaN"),
        (lambda: bootstrap.bootstrap_mean_ci([1.0], rng(), level=1.5), "level"),
        (lambda: bootstrap.bootstrap_mean_ci([1.0], rng(), reps=0), "reps"),
        (lambda: stats.probability_of_improvement([np.ones(2)], []), "number of tasks"),
        (lambda: stats.paired_difference([1.0, 2.0], [1.0, 2.0], level=0.0), "level"),
        (lambda: stats.iqm([]), "empty"),
    ],
)
def test_bad_input_is_rejected_clearly(call, match):
    with pytest.raises(ValueError, match=match):
        call()
