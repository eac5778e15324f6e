"""The report of ``regbench compare``: records → per-benchmark and overall comparison (no torch).

For each benchmark (and overall, pooling every benchmark × seed pair) it shows the new
regularizer's ID/OOD accuracy, worst-group accuracy, ECE and train time next to erm's and
the best baseline's, the paired difference over seeds with its 95% Student-t CI
(:func:`regbench.report.stats.paired.paired_difference`), the probability of improvement
(:func:`regbench.report.stats.improvement.probability_of_improvement`), and one verdict line per
opponent on the suite's primary metric (see :mod:`regbench.report.stats.verdict`).

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

from regbench.report.render import markdown
from regbench.report.render.markdown import md
from regbench.report.stats import DEFAULT_LEVEL, Estimate, holm, paired_difference, probability_of_improvement
from regbench.report.stats.verdict import verdict, verdict_line, worse
from regbench.report.table.model_selection import run_numbers


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
    Metric("train_seconds", "Train s", False, 1.0, " s"),
)
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
    "train_seconds": "cost (train seconds)",
}
OVERALL = "overall"
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


def _values(records: Sequence[Mapping[str, Any]]) -> tuple[dict, dict]:
    nums, status = {}, {}
    for r in records:
        key = (r["benchmark"], r["regularizer"], r["seed"])
        status[key] = r["status"]
        if r["status"] == "ok":
            run = (r.get("metrics") or {}).get("run", {})
            nums[key] = {**run_numbers(r), "train_seconds": run.get("train_seconds", math.nan)}
    return nums, status


def build_sections(
    records: Sequence[Mapping[str, Any]],
    new: str,
    baselines: Sequence[str],
    benchmarks: Sequence[str],
    seeds: Sequence[int],
    primary: str = "ood_accuracy",
) -> list[Section]:
    """Per benchmark, then ``overall``. ``records`` carry benchmark, regularizer (label), seed,
    status and metrics; a failed, diverged or missing run is NaN and drops its pair."""
    nums, status = _values(records)
    pkey, ptitle, higher = PRIMARY[primary]
    keys = list(dict.fromkeys([*(m.key for m in METRICS), pkey]))
    sections = []
    for name in [*benchmarks, OVERALL]:
        benches = list(benchmarks) if name == OVERALL else [name]
        pairs = [(b, s) for b in benches for s in seeds]

        def arr(reg: str, metric: str, pairs=pairs) -> np.ndarray:
            return np.array([nums.get((b, reg, s), {}).get(metric, math.nan) for b, s in pairs])

        sec = Section(name, None)
        for reg in [new, *baselines]:
            sec.means[reg] = {m: _nanmean(arr(reg, m)) for m in keys}
            sec.not_ok[reg] = sum(status.get((b, reg, s)) != "ok" for b, s in pairs)
        scored = [b for b in baselines if not math.isnan(sec.means[b][pkey])]
        if scored:
            sign = 1 if higher else -1
            sec.best_baseline = max(scored, key=lambda b: (sign * sec.means[b][pkey], -baselines.index(b)))
        for opp in _opponents(sec, baselines):
            sec.diffs[opp] = {m: paired_difference(arr(new, m), arr(opp, m)) for m in keys}
            sign = 1.0 if higher else -1.0
            per_bench = [
                (sign * arr(new, pkey, [(b, s) for s in seeds]), sign * arr(opp, pkey, [(b, s) for s in seeds]))
                for b in benches
            ]
            sec.poi[opp] = probability_of_improvement([x for x, _ in per_bench], [y for _, y in per_bench])
        sections.append(sec)
    _decide(sections, new, keys, pkey, ptitle, higher)
    return sections


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
                if key != pkey and worse(diffs[key], direction[key], sig[key])
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


def _num(v: float, m: Metric) -> str:
    return "—" if math.isnan(v) else f"{m.scale * v:.2f}"


def _diff(d: Estimate, m: Metric) -> str:
    s = m.scale
    if d.n == 0:
        return "—"
    if d.n < 2:
        return f"{s * d.mean:+.2f} (n=1)"
    return f"{s * d.mean:+.2f} [{s * d.lo:+.2f}, {s * d.hi:+.2f}]"


def _unit(m: Metric) -> str:
    return "(%)" if m.unit == " pts" else f"({m.unit.strip()})"


def render(sections: Sequence[Section], new: str, primary: str = "ood_accuracy", header: Sequence[str] = ()) -> str:
    """Markdown: for each section a table of means, a table of paired differences, verdicts
    and every metric that got significantly worse."""
    ptitle = PRIMARY[primary][1]
    out = [*header]
    for sec in sections:
        title = "Overall (every benchmark × seed pair)" if sec.name == OVERALL else f"Benchmark {md(sec.name)}"
        out += [
            "",
            f"## {title}",
            "",
        ]
        shown = [new, *[o for o in dict.fromkeys(["erm", sec.best_baseline]) if o and o in sec.means]]
        tags = {new: " (new)", sec.best_baseline: " (best baseline)"}
        out += markdown.table(
            ["regularizer", *(f"{m.title} {_unit(m)}" for m in METRICS), "runs not ok"],
            [
                [reg + tags.get(reg, ""), *(_num(sec.means[reg][m.key], m) for m in METRICS), sec.not_ok[reg]]
                for reg in shown
            ],
            "l" + "r" * (len(METRICS) + 1),
        )
        if sec.diffs:
            out += [
                "",
                "Paired difference new − opponent over seeds (accuracy and ECE in points, train time in "
                f"seconds) with 95% Student-t CI (for ECE and time, lower is better); P(improvement) on {ptitle}:",
                "",
            ]
            out += markdown.table(
                ["opponent", *(f"Δ {m.title}" for m in METRICS), "P(improvement)"],
                [
                    [
                        opp,
                        *(_diff(diffs[m.key], m) for m in METRICS),
                        "—" if math.isnan(sec.poi[opp]) else f"{sec.poi[opp]:.2f}",
                    ]
                    for opp, diffs in sec.diffs.items()
                ],
                "l" + "r" * (len(METRICS) + 1),
            )
            out += [""] + [f"**Verdict:** {md(line)}  " for line in sec.lines.values()]
            for opp, harms in sec.harms.items():
                if harms:
                    out.append(
                        f"**Significantly worse than {md(opp)}** (Holm-corrected): " + md("; ".join(harms)) + ".  "
                    )
        else:
            out += ["", "**Verdict:** none — no baseline has a finished run here."]
    return "\n".join(out) + "\n"
