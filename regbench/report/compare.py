"""The report of ``regbench compare``: records → per-benchmark and overall comparison (no torch).

For each benchmark (and overall) it shows the new regularizer's ID/OOD accuracy, worst-group
accuracy, ECE and train CPU time next to erm's and the best baseline's, the paired
difference with its 95% CI, the probability of improvement
(:func:`regbench.report.stats.improvement.probability_of_improvement`), and one verdict line per
opponent on the suite's primary metric (see :mod:`regbench.report.stats.verdict`).

The primary metric's paired difference is the one the leaderboard's tiers use: with stored
per-image outcomes, :func:`regbench.report.stats.crossed.paired_difference` over seeds × image
clusters (so a constant gap of a few images on every seed is what it is, not p = 0); without
them (old records, non-accuracy primaries) the paired t over seeds. The other metrics use the
paired t over seeds. The overall row counts each distinct training setup once (benchmarks with
the same data fingerprint, model and train spec train identical runs): the primary metric's
overall difference is the mean of the distinct setups' differences, their variances added.
Train CPU time is shown with its difference but never claimed as a significant harm: runs
reused from other invocations ran on a differently loaded machine.

Multiplicity: the benchmarks plus the overall row are one family of tests per opponent
(erm, the best baseline) and per metric; a difference counts as significant only after
Holm-Bonferroni across that family (:func:`regbench.report.stats.paired.holm`). Every other metric
that got significantly worse is reported under the verdict (a win on accuracy with a
calibration regression says both).

The "best baseline" is the one with the best mean primary metric on the test splits. Picking
the strongest opponent after seeing its test numbers can only favour the baseline, so it
makes a claimed win harder, never easier.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from regbench.report.stats import DEFAULT_LEVEL, Estimate, holm, paired_difference, probability_of_improvement
from regbench.report.stats import crossed
from regbench.report.stats.verdict import verdict, verdict_line, worse
from regbench.report.table.model_selection import run_numbers, val_score


@dataclass(frozen=True)
class Metric:
    """A compared number: record key, title, direction and display (scale, unit, digits)."""

    key: str
    title: str
    higher_is_better: bool
    scale: float = 100.0
    unit: str = " pts"


METRICS = (
    Metric("id_accuracy", "ID acc", True),
    Metric("ood_accuracy", "OOD acc", True),
    Metric("worst_group_accuracy", "Worst-group", True),
    Metric("ece_id", "ECE ID", False),
    Metric("ece_ood", "ECE OOD", False),
    Metric("train_cpu_seconds", "Train CPU s", False, 1.0, " s"),
)
NO_CLAIM = ("train_cpu_seconds",)  # shown with its difference, never a significance claim
PRIMARY = {  # suite primary_metric → (run_numbers key, title, higher is better)
    "ood_accuracy": ("ood_accuracy", "OOD accuracy", True),
    "id_accuracy": ("id_accuracy", "ID accuracy", True),
    "worst_group_accuracy": ("worst_group_accuracy", "worst-group accuracy", True),
    "ece_ood": ("ece_ood", "OOD ECE", False),
}
HARM_TITLES = {
    "id_accuracy": "ID accuracy",
    "ood_accuracy": "OOD accuracy",
    "worst_group_accuracy": "worst-group accuracy",
    "ece_id": "ID ECE",
    "ece_ood": "OOD ECE",
    "train_cpu_seconds": "cost (train CPU seconds)",
}
PER_IMAGE_SPLITS = {"id_accuracy": lambda s: s == "test_id", "ood_accuracy": lambda s: s.startswith("ood/")}
OVERALL = "overall"
VAL = "val_accuracy"  # what picks the best baseline (``_best_baseline``)
ROLES = ("erm", "best")  # one multiple-comparison family per opponent role


@dataclass
class Section:
    """One benchmark's (or the overall) comparison."""

    name: str
    best_baseline: str | None
    means: dict[str, dict[str, float]] = field(default_factory=dict)  # config → metric → mean
    diffs: dict[str, dict[str, Estimate]] = field(default_factory=dict)  # opponent → metric → diff
    significant: dict[str, dict[str, bool]] = field(default_factory=dict)  # opponent → metric → Holm
    poi: dict[str, float] = field(default_factory=dict)  # opponent → P(new better) on the primary
    verdicts: dict[str, str] = field(default_factory=dict)  # opponent → win | loss | inconclusive
    lines: dict[str, str] = field(default_factory=dict)  # opponent → verdict sentence
    harms: dict[str, list[str]] = field(default_factory=dict)  # opponent → significantly worse metrics
    not_ok: dict[str, int] = field(default_factory=dict)  # config → runs failed/diverged/missing
    mdd: float = math.nan  # minimum detectable difference on the primary metric (fraction)
    benchmarks: list[str] = field(default_factory=list)  # overall: the distinct training setups counted


def _values(records: Sequence[Mapping[str, Any]]) -> tuple[dict, dict]:
    nums, status = {}, {}
    for r in records:
        key = (r["benchmark"], r["regularizer"], r["seed"])
        status[key] = r["status"]
        if r["status"] == "ok":
            run = (r.get("metrics") or {}).get("run", {})
            cpu = run.get("train_cpu_seconds", math.nan)
            nums[key] = {**run_numbers(r), "train_cpu_seconds": cpu, "val_accuracy": val_score(r)}
    return nums, status


def _setups(records: Sequence[Mapping[str, Any]], benchmarks: Sequence[str]) -> list[str]:
    """One benchmark per distinct training setup (data fingerprint, model, train spec), first seen.

    Two benchmarks that train on identical data with the same model and budget give the same
    runs (the shipped ``covariate`` suite's digits-c and digits-rotated): counting both would
    count one training twice. A benchmark without a record keeps its own setup.
    """
    import json

    setup: dict[str, str] = {}
    for r in records:
        spec = r.get("spec") or {}
        if not r.get("fingerprint"):  # nothing says what it trained on: its own setup
            continue
        key = json.dumps(
            [r.get("fingerprint"), spec.get("model"), spec.get("model_args"), spec.get("train")],
            sort_keys=True,
            default=str,
        )
        setup.setdefault(r["benchmark"], key)
    seen, out = set(), []
    for b in benchmarks:
        key = setup.get(b, b)
        if key not in seen:
            seen.add(key)
            out.append(b)
    return out


def _key(r: Mapping[str, Any]) -> str:
    """The record's run key (a hand-built record without one: its benchmark/regularizer/seed)."""
    return r.get("run_key") or f"{r['benchmark']}/{r['regularizer']}/{r['seed']}"


def _run_keys(records: Sequence[Mapping[str, Any]]) -> dict[tuple, str]:
    return {(r["benchmark"], r["regularizer"], r["seed"]): _key(r) for r in records if r["status"] == "ok"}


def _image_difference(outcomes, keys, bench, new, opp, seeds, pkey, prior=None) -> tuple[Estimate, Any] | None:
    """The per-image paired difference new − opp on ``bench`` (``crossed.paired_difference``) over
    the seeds both finished, as an Estimate and the TwoLevelEstimate; None without outcomes.
    ``prior``: the benchmark's seed-variance prior (``PairTests.seed_prior``), when every row
    finished the same seeds; a pair tested on fewer seeds than the table is tested on its own."""
    if pkey not in PER_IMAGE_SPLITS or not outcomes:
        return None
    both = [s for s in seeds if (bench, new, s) in keys and (bench, opp, s) in keys]
    if len(both) < 2:
        return None
    a, b = [keys[bench, new, s] for s in both], [keys[bench, opp, s] for s in both]
    splits = sorted({sp for (k, sp) in outcomes if k == a[0] and PER_IMAGE_SPLITS[pkey](sp)})
    if not splits or any((k, sp) not in outcomes for k in a + b for sp in splits):
        return None
    x = [np.array([outcomes[k, sp].correct for k in a], dtype=np.float64) for sp in splits]
    y = [np.array([outcomes[k, sp].correct for k in b], dtype=np.float64) for sp in splits]
    if any(u.shape != v.shape for u, v in zip(x, y)):
        return None
    use = prior if (prior is not None and len(both) == len(seeds)) else crossed.NO_PRIOR
    est = crossed.paired_difference(x, y, [outcomes[a[0], sp].clusters for sp in splits], seed_prior=use)
    return Estimate(est.mean, est.lo, est.hi, len(both), est.level, est.p_value), est


def _averaged(parts: list[Any], n: int) -> Estimate:
    """Mean of independent benchmarks' two-level differences: Var = Σ se² / B², Satterthwaite df."""
    from scipy import stats as _st

    b = len(parts)
    mean = float(np.mean([p.mean for p in parts]))
    var = np.array([p.se**2 for p in parts]) / b**2
    df_parts = np.array([p.df for p in parts], dtype=np.float64)
    se = float(np.sqrt(var.sum()))
    with np.errstate(invalid="ignore", divide="ignore"):
        df = float(var.sum() ** 2 / np.sum(var**2 / df_parts)) if se > 0 else math.inf
    q = _st.t.ppf(0.5 + DEFAULT_LEVEL / 2, df) if np.isfinite(df) else _st.norm.ppf(0.5 + DEFAULT_LEVEL / 2)
    p = float(2 * _st.t.sf(abs(mean) / se, df if np.isfinite(df) else 1e9)) if se > 0 else (1.0 if mean == 0 else 0.0)
    return Estimate(mean, mean - q * se, mean + q * se, n, DEFAULT_LEVEL, p)


def build_sections(
    records: Sequence[Mapping[str, Any]],
    new: str,
    baselines: Sequence[str],
    benchmarks: Sequence[str],
    seeds: Sequence[int],
    primary: str = "ood_accuracy",
    outcomes: Mapping | None = None,
) -> list[Section]:
    """Per benchmark, then ``overall``. ``records`` carry run_key, benchmark, regularizer (label),
    seed, status, metrics, fingerprint and spec; a failed, diverged or missing run is NaN and
    drops its pair. ``outcomes``: ``Store.outcomes`` of the ok runs (per-image paired tests on
    the primary metric; without it, the paired t over seeds). Each benchmark section's ``mdd`` is
    the minimum detectable difference of the leaderboard's pairwise tests of these rows."""
    nums, status = _values(records)
    keys_of = _run_keys(records)
    outcomes = outcomes or {}
    pkey, ptitle, higher = PRIMARY[primary]
    # the leaderboard's pairwise tests of these rows, once: each benchmark's seed-variance prior
    # (so that a verdict is the table's test of that pair, stats.moderation) and its resolution
    tested = pair_tests(records, [new, *baselines], benchmarks, primary, outcomes)
    keys = list(dict.fromkeys([*(m.key for m in METRICS), pkey]))
    distinct = _setups(records, benchmarks)
    sections = []
    per_bench: dict[tuple[str, str], Any] = {}  # (benchmark, opponent) → TwoLevelEstimate of the primary
    for name in [*benchmarks, OVERALL]:
        benches = distinct if name == OVERALL else [name]
        pairs = [(b, s) for b in benches for s in seeds]

        def arr(reg: str, metric: str, pairs=pairs) -> np.ndarray:
            return np.array([nums.get((b, reg, s), {}).get(metric, math.nan) for b, s in pairs])

        sec = Section(name, None, benchmarks=list(benches))
        if tested.get(name) is not None:
            sec.mdd = tested[name].mdd
        for reg in [new, *baselines]:
            sec.means[reg] = {m: _nanmean(arr(reg, m)) for m in keys}
            sec.not_ok[reg] = sum(status.get((b, reg, s)) != "ok" for b, s in pairs)
        sec.best_baseline = _best_baseline(sec, baselines, pkey, higher, {b: _nanmean(arr(b, VAL)) for b in baselines})
        for opp in _opponents(sec, baselines):
            sec.diffs[opp] = {m: paired_difference(arr(new, m), arr(opp, m)) for m in keys}
            if name != OVERALL:
                prior = tested[name].seed_prior if tested.get(name) is not None else None
                got = _image_difference(outcomes, keys_of, name, new, opp, seeds, pkey, prior)
                if got is not None:
                    sec.diffs[opp][pkey], per_bench[name, opp] = got
            else:
                parts = [per_bench.get((b, opp)) for b in benches]
                if parts and all(p is not None for p in parts):
                    sec.diffs[opp][pkey] = _averaged(parts, sec.diffs[opp][pkey].n)
            sign = 1.0 if higher else -1.0
            per_bench_scores = [
                (sign * arr(new, pkey, [(b, s) for s in seeds]), sign * arr(opp, pkey, [(b, s) for s in seeds]))
                for b in benches
            ]
            sec.poi[opp] = probability_of_improvement(
                [x for x, _ in per_bench_scores], [y for _, y in per_bench_scores]
            )
        sections.append(sec)
    _decide(sections, new, keys, pkey, ptitle, higher)
    return sections


def pair_tests(records, regs, benchmarks, primary: str = "ood_accuracy", outcomes: Mapping | None = None) -> dict:
    """benchmark → ``table.paired_cells.benchmark_tests`` of ``regs`` on the primary metric
    (None where it cannot be tested): the leaderboard's pairwise tests, from compare's records."""
    import pandas as pd

    from regbench.report.table.paired_cells import benchmark_tests

    pkey, _, higher = PRIMARY[primary]
    ok = [r for r in records if r["status"] == "ok" and r["regularizer"] in regs]
    if not ok:
        return {}
    table = pd.DataFrame(
        {
            "run_key": [_key(r) for r in ok],
            "benchmark": [r["benchmark"] for r in ok],
            "regularizer": [r["regularizer"] for r in ok],
            "seed": [r["seed"] for r in ok],
            pkey: [run_numbers(r).get(pkey, math.nan) for r in ok],
        }
    )
    metrics = pd.DataFrame(
        [
            {"run_key": _key(r), "split": split, "family": None, "metric": m}
            for r in ok
            for split, values in (r.get("metrics") or {}).items()
            for m in values
        ],
        columns=["run_key", "split", "family", "metric"],
    )
    return {b: benchmark_tests(table, metrics, outcomes or {}, b, pkey, higher) for b in benchmarks}


def resolution_line(sections: Sequence[Section], ptitle: str, n_seeds: int) -> str | None:
    """'This suite detects OOD accuracy differences ≥ X points with 80% power at 3 seeds' (the
    worst benchmark's minimum detectable difference), or None where none is known."""
    mdds = [s.mdd for s in sections if s.name != OVERALL and not math.isnan(s.mdd)]
    if not mdds:
        return None
    return (
        f"This suite detects {ptitle} differences ≥ {100 * max(mdds):.2f} points with 80% power at {n_seeds} "
        "seeds on every benchmark (paired tests at α = 0.05; per benchmark below)."
    )


def _best_baseline(sec: Section, baselines: Sequence[str], pkey: str, higher: bool, val: Mapping[str, float]):
    """The baseline a practitioner would pick without the test set: the highest mean validation
    accuracy (``val``), among those scored on the primary metric; by the primary metric's
    mean only where no baseline has validation numbers (records from before ``val`` was kept).

    Picking the best of K rows by their test means and then testing against it favours that
    row by its selection (the winner's curse): a null regularizer (erm with its initial weights
    permuted) was called a significant loss against the test-picked best baseline on 3 of the
    4 ood benchmarks. Validation is scored on other images, so the pick does not bias the test.
    """
    scored = [b for b in baselines if not math.isnan(sec.means[b][pkey])]
    if not scored:
        return None
    order = {b: -i for i, b in enumerate(baselines)}  # ties: the earlier baseline
    with_val = [b for b in scored if not math.isnan(val.get(b, math.nan))]
    if with_val:
        return max(with_val, key=lambda b: (val[b], order[b]))
    sign = 1 if higher else -1
    return max(scored, key=lambda b: (sign * sec.means[b][pkey], order[b]))


def _opponents(sec: Section, baselines: Sequence[str]) -> list[str]:
    return [o for o in dict.fromkeys(["erm", sec.best_baseline]) if o in baselines]


def _role_opponent(sec: Section, role: str) -> str | None:
    opp = "erm" if role == "erm" else sec.best_baseline
    return opp if opp in sec.diffs else None


def _decide(sections: list[Section], new: str, keys: list[str], pkey: str, ptitle: str, higher: bool) -> None:
    """Holm-Bonferroni per (opponent role, metric) across the sections, then verdicts and harms."""
    direction = {m.key: m.higher_is_better for m in METRICS} | {pkey: higher}
    for role in ROLES:
        for key in keys:
            tested = [(sec, _role_opponent(sec, role)) for sec in sections]
            tested = [(sec, opp) for sec, opp in tested if opp is not None]
            reject = holm([sec.diffs[opp][key].p_value for sec, opp in tested], 1.0 - DEFAULT_LEVEL)
            for (sec, opp), r in zip(tested, reject):
                # erm can also be the best baseline: significant if either family rejects
                sec.significant.setdefault(opp, {})[key] = sec.significant.get(opp, {}).get(key, False) or bool(r)
    family = len(sections)
    for sec in sections:
        for opp, diffs in sec.diffs.items():
            sig = sec.significant[opp]
            d = diffs[pkey]
            sec.verdicts[opp] = verdict(d, higher, sig[pkey])
            sec.lines[opp] = verdict_line(ptitle, _opp_name(opp, sec), d, higher, significant=sig[pkey], tests=family)
            sec.harms[opp] = [
                _harm_line(key, diffs[key])
                for key in keys
                if key != pkey and key not in NO_CLAIM and worse(diffs[key], direction[key], sig[key])
            ]


def _harm_line(key: str, d: Estimate) -> str:
    metric = next(m for m in METRICS if m.key == key)
    s = metric.scale
    return (
        f"{HARM_TITLES[key]} {s * d.mean:+.2f}{metric.unit}, {d.level:.0%} CI [{s * d.lo:+.2f}, {s * d.hi:+.2f}]"
        f" (p = {d.p_value:.3f})"
    )


def _opp_name(opp: str, sec: Section) -> str:
    if opp == sec.best_baseline and opp == "erm":
        return "erm (also the best baseline)"
    return f"best baseline ({opp})" if opp == sec.best_baseline else opp


def _nanmean(a: np.ndarray) -> float:
    a = a[np.isfinite(a)]
    return float(a.mean()) if len(a) else math.nan
