"""Moderated seed variances (regbench.report.stats.moderation): the prior is fitted right, it only
ever raises a pair's variance, and the leaderboard's pairwise tests keep their error rates on
real stored null rows and on rows of unequal stability, where the unmoderated tests did not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import special

from regbench.report.stats import crossed, pairwise, power
from regbench.report.stats.moderation import NO_PRIOR, SeedPrior, fit_seed_prior, trigamma_inverse

FIXTURE = Path(__file__).parent / "data" / "twolevel_digits_gn.npz"


@pytest.fixture(scope="module")
def real():
    """40 erm seeds × 3,000 images of digits-c (tests/data/make_twolevel_fixture.py)."""
    data = np.load(FIXTURE)
    n = data["clusters"].size
    splits = ["test_id"] + [f"gaussian_noise_{s}" for s in range(1, 6)]
    out = {k: np.unpackbits(data[k], axis=1, count=n).astype(np.float64) for k in splits}
    return {**out, "clusters": data["clusters"].astype(np.int64)}


def test_trigamma_inverse_inverts():
    for x in (0.01, 0.3, 1.0, 4.0, 50.0, 3e4):
        assert trigamma_inverse(float(special.polygamma(1, x))) == pytest.approx(x, rel=1e-6)


def test_fit_recovers_a_known_prior():
    """σ² ~ s0²·d0/χ²_d0 and s² ~ σ²·χ²_2/2 (3 seeds): the fit finds d0 and s0²."""
    rng = np.random.default_rng(0)
    d0, s0 = 8.0, 2.5
    sigma2 = s0 * d0 / rng.chisquare(d0, 20000)
    s2 = sigma2 * rng.chisquare(2, sigma2.size) / 2
    prior = fit_seed_prior(s2, 2.0)
    assert prior.df == pytest.approx(d0, rel=0.2) and prior.scale == pytest.approx(s0, rel=0.1)
    same = fit_seed_prior(1.7 * rng.chisquare(2, 20000) / 2, 2.0)  # one variance for all: pooled
    assert same.df > 100 and same.scale == pytest.approx(1.7, rel=0.05)
    capped = fit_seed_prior(1.7 * rng.chisquare(2, 20000) / 2, 2.0, max_df=24.0)
    assert capped.df == 24.0 and capped.scale == pytest.approx(1.7, rel=0.05)


def test_the_prior_is_capped_by_the_rows_seeds_table():
    """All pairs of 4 rows × 3 seeds: d0 ≤ (3 − 1)(4 − 1) = 6, however alike the pairs look."""
    rng = np.random.default_rng(5)
    rows = (rng.random((4, 3, 500)) < 0.7).astype(float)
    res = pairwise.all_pairs([rows], [np.arange(500)])
    assert res.seed_prior.df == 6.0  # the fit alone says ∞: no seed effect at all here


def test_too_few_pairs_or_no_seed_df_is_no_prior():
    assert fit_seed_prior([1.0, 2.0], 2.0) is NO_PRIOR
    assert fit_seed_prior([1.0, 2.0, 3.0, 0.0, np.nan], 0.0) is NO_PRIOR
    assert fit_seed_prior([0.0, 0.0, np.nan, 1.0], 2.0) is NO_PRIOR  # only one usable value


def test_moderation_only_raises_and_keeps_its_own_df_when_above():
    prior = SeedPrior(df=4.0, scale=1.0, pairs=10)
    ms, df = prior.moderate(np.array([0.0, 0.5, 1.0, 9.0]), 2.0)
    shrunk = (4.0 * 1.0 + 2.0 * np.array([0.0, 0.5, 1.0])) / 6.0
    assert ms[:3] == pytest.approx(shrunk) and df[:3].tolist() == [6.0, 6.0, 6.0]
    assert ms[3] == 9.0 and df[3] == 2.0  # an unstable pair keeps its variance and its 2 df
    pooled = SeedPrior(df=np.inf, scale=1.0, pairs=10).moderate(np.array([0.2, 3.0]), 2.0)
    assert pooled[0].tolist() == [1.0, 3.0] and pooled[1].tolist() == [np.inf, 2.0]
    same, df0 = NO_PRIOR.moderate(np.array([0.2, 3.0]), 2.0)
    assert same.tolist() == [0.2, 3.0] and df0.tolist() == [2.0, 2.0]


def test_no_prior_leaves_the_two_level_estimate_as_it_was(real):
    a = [real[f"gaussian_noise_{s}"][:3] for s in range(1, 6)]
    b = [real[f"gaussian_noise_{s}"][3:6] for s in range(1, 6)]
    cl = [real["clusters"]] * 5
    plain = crossed.paired_difference(a, b, cl)
    again = crossed.paired_difference(a, b, cl, seed_prior=NO_PRIOR)
    assert (plain.se, plain.df, plain.p_value) == (again.se, again.df, again.p_value)
    assert plain.seed_df == 2.0


def _null_draws(real, splits, draws, moderate, seed=0):
    """13 rows of 3 distinct erm seeds each, all pairs tested: (pairwise false-positive rate,
    share of draws in which Holm separated any pair)."""
    rng = np.random.default_rng(seed)
    fp = tot = fw = 0
    iu = np.triu_indices(13, 1)
    for _ in range(draws):
        pick = rng.permutation(40)[:39].reshape(13, 3)
        res = pairwise.all_pairs([real[s][pick] for s in splits], [real["clusters"]] * len(splits), moderate=moderate)
        fp += int((res.p[iu] < 0.05).sum())
        tot += iu[0].size
        fw += bool(res.separated[iu].any())
    return fp / tot, fw / draws


def test_real_null_rows_are_not_separated(real):
    """Rows that are all erm (different seeds): every separation is a false one. Measured over
    60 draws: moderated, no draw separated any pair on the 5-split OOD mean (per pair 3.4 %);
    the unmoderated tests separated some pair in 72 % of draws."""
    ood = [f"gaussian_noise_{s}" for s in range(1, 6)]
    rate, family = _null_draws(real, ood, 30, moderate=True)
    assert rate <= 0.06 and family <= 0.1
    _, family_raw = _null_draws(real, ood, 30, moderate=False)
    assert family_raw > 0.3  # what moderation fixes: 2-df seed parts, trusted at Holm's tail


def _unequal_rows(rng, sig, p, n=3):
    """K rows × n seeds × N images of 0/1 outcomes: the same per-image difficulty ``p``, each
    row's seeds shifted on the logit scale with its own spread ``sig`` (no true difference)."""
    logit = np.log(p / (1 - p))
    delta = rng.normal(0, 1, (sig.size, n, 1)) * sig[:, None, None]
    return (rng.random((sig.size, n, p.size)) < 1 / (1 + np.exp(-(logit + delta)))).astype(np.float64)


def test_a_row_less_stable_than_the_rest_keeps_its_error_rate(real):
    """One row 16× less stable across seeds than the others: shrinking its pairs' variances
    toward the benchmark's would make it look surer than it is (18.6 % false positives for its
    pairs when the prior may also lower a variance); raising only keeps it at ~5 %."""
    p = np.clip(real["gaussian_noise_3"].mean(0), 0.02, 0.98)
    sig = np.r_[np.full(12, 0.05), 0.8]
    rng = np.random.default_rng(1)
    fp = np.zeros((13, 13))
    draws = 60
    for _ in range(draws):
        res = pairwise.all_pairs([_unequal_rows(rng, sig, p)], [np.arange(p.size)])
        fp += np.nan_to_num(res.p < 0.05)
    assert fp[-1, :-1].mean() / draws <= 0.08
    assert fp[np.triu_indices(13, 1)].mean() / draws <= 0.07


def test_moderation_finds_more_of_a_real_difference(real):
    """A true +1.5-point shift on half the rows (erm outcomes with images flipped to correct):
    the moderated tests separate more of the true pairs and state a smaller detectable difference."""
    rng = np.random.default_rng(3)
    base = real["gaussian_noise_3"]
    rows = []
    for r in range(8):
        x = base[rng.permutation(40)[:3]].copy()
        if r % 2:
            wrong = np.flatnonzero(base.mean(0) < 0.5)
            x[:, rng.choice(wrong, 45, replace=False)] = 1.0  # 45 of 3,000 images: +1.5 points
        rows.append(x)
    rows = np.stack(rows)
    mod = pairwise.all_pairs([rows], [real["clusters"]])
    raw = pairwise.all_pairs([rows], [real["clusters"]], moderate=False)
    true_pairs = np.array([[(i % 2) != (j % 2) for j in range(8)] for i in range(8)])
    assert mod.separated[true_pairs].sum() >= raw.separated[true_pairs].sum()
    assert power.suite_minimum_detectable_difference(mod) < power.suite_minimum_detectable_difference(raw)
    assert mod.seed_prior.pairs == 28 and mod.seed_prior.df > 0
