"""The report of ``regbench compare``: records → per-benchmark and overall comparison (no torch).

For each benchmark (and overall, pooling every benchmark × seed pair) it shows the new
regularizer's ID/OOD accuracy and ECE next to erm's and the best baseline's, the paired
difference over seeds with its 95% CI, the probability of improvement, and one verdict line
per opponent on the suite's primary metric (see :mod:`regbench.report.verdict`).

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

from regbench.report.escape import md
from regbench.report.selection import run_numbers
from regbench.report.verdict import PairedDiff, paired_difference, probability_of_improvement, verdict, verdict_line

# (key, column title, higher is better)
METRICS = (
    ("id_accuracy", "ID acc", True),
    ("ood_accuracy", "OOD acc", True),
    ("ece_id", "ECE ID", False),
    ("ece_ood", "ECE OOD", False),
)
PRIMARY = {  # suite primary_metric → (run_numbers key, title, higher is better)
    "ood_accuracy": ("ood_accuracy", "OOD accuracy", True),
    "id_accuracy": ("id_accuracy", "ID accuracy", True),
    "worst_group_accuracy": ("worst_group_accuracy", "worst-group accuracy", True),
    "ece_ood": ("ece_ood", "OOD ECE", False),
}
OVERALL = "overall"


@dataclass
class Section:
    """One benchmark's (or the overall) comparison."""

    name: str
    best_baseline: str | None
    means: dict[str, dict[str, float]] = field(default_factory=dict)  # config → metric → mean
    diffs: dict[str, dict[str, PairedDiff]] = field(default_factory=dict)  # opponent → metric → diff
    poi: dict[str, float] = field(default_factory=dict)  # opponent → P(new better) on the primary
    verdicts: dict[str, str] = field(default_factory=dict)  # opponent → win | loss | inconclusive
    lines: dict[str, str] = field(default_factory=dict)  # opponent → verdict sentence
    not_ok: dict[str, int] = field(default_factory=dict)  # config → runs failed/diverged/missing


def _values(records: Sequence[Mapping[str, Any]]) -> tuple[dict, dict]:
    nums, status = {}, {}
    for r in records:
        key = (r["benchmark"], r["regularizer"], r["seed"])
        status[key] = r["status"]
        if r["status"] == "ok":
            nums[key] = run_numbers(r)
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
    pkey, _, higher = PRIMARY[primary]
    sections = []
    for name in [*benchmarks, OVERALL]:
        benches = list(benchmarks) if name == OVERALL else [name]
        pairs = [(b, s) for b in benches for s in seeds]

        def arr(reg: str, metric: str, pairs=pairs) -> np.ndarray:
            return np.array([nums.get((b, reg, s), {}).get(metric, math.nan) for b, s in pairs])

        configs = [new, *baselines]
        sec = Section(name, None)
        for reg in configs:
            sec.means[reg] = {m: _nanmean(arr(reg, m)) for m, _, _ in (*METRICS, (pkey, "", True))}
            sec.not_ok[reg] = sum(status.get((b, reg, s)) != "ok" for b, s in pairs)
        scored = [b for b in baselines if not math.isnan(sec.means[b][pkey])]
        if scored:
            sign = 1 if higher else -1
            sec.best_baseline = max(scored, key=lambda b: (sign * sec.means[b][pkey], -baselines.index(b)))
        opponents = [o for o in dict.fromkeys(["erm", sec.best_baseline]) if o in baselines]
        for opp in opponents:
            sec.diffs[opp] = {m: paired_difference(arr(new, m), arr(opp, m)) for m, _, _ in (*METRICS, (pkey, "", 1))}
            d = sec.diffs[opp][pkey]
            sec.verdicts[opp] = verdict(d, higher)
            sec.poi[opp] = _poi(lambda reg: arr(reg, pkey), new, opp, benches, seeds, higher)
            sec.lines[opp] = verdict_line(PRIMARY[primary][1], _opp_name(opp, sec), d, higher)
        sections.append(sec)
    return sections


def _poi(arr, new: str, opp: str, benches: list[str], seeds: Sequence[int], higher: bool) -> float:
    """Mean over benchmarks of P(new run beats an opponent run), as rliable averages over tasks."""
    x, y = arr(new), arr(opp)
    s = len(seeds)
    sign = 1.0 if higher else -1.0
    per = [
        probability_of_improvement(sign * x[i * s : (i + 1) * s], sign * y[i * s : (i + 1) * s])
        for i in range(len(benches))
    ]
    per = [p for p in per if not math.isnan(p)]
    return sum(per) / len(per) if per else math.nan


def _opp_name(opp: str, sec: Section) -> str:
    if opp == sec.best_baseline and opp == "erm":
        return "erm (also the best baseline)"
    return f"best baseline ({opp})" if opp == sec.best_baseline else opp


def _nanmean(a: np.ndarray) -> float:
    a = a[np.isfinite(a)]
    return float(a.mean()) if len(a) else math.nan


def _pct(v: float) -> str:
    return "—" if math.isnan(v) else f"{100 * v:.2f}"


def _diff(d: PairedDiff) -> str:
    if d.n == 0:
        return "—"
    if d.n < 2:
        return f"{100 * d.mean:+.2f} (n=1)"
    return f"{100 * d.mean:+.2f} [{100 * d.lo:+.2f}, {100 * d.hi:+.2f}]"


def render(sections: Sequence[Section], new: str, primary: str = "ood_accuracy", header: Sequence[str] = ()) -> str:
    """Markdown: for each section a table of means, a table of paired differences, verdicts."""
    ptitle = PRIMARY[primary][1]
    out = [*header]
    for sec in sections:
        title = "Overall (every benchmark × seed pair)" if sec.name == OVERALL else f"Benchmark {md(sec.name)}"
        out += [
            "",
            f"## {title}",
            "",
            "| regularizer | " + " | ".join(f"{t} (%)" for _, t, _ in METRICS) + " | runs not ok |",
            "|---|" + "---:|" * (len(METRICS) + 1),
        ]
        shown = [new, *[o for o in dict.fromkeys(["erm", sec.best_baseline]) if o and o in sec.means]]
        for reg in shown:
            tag = " (new)" if reg == new else (" (best baseline)" if reg == sec.best_baseline else "")
            cells = " | ".join(_pct(sec.means[reg][m]) for m, _, _ in METRICS)
            out.append(f"| {md(reg)}{tag} | {cells} | {sec.not_ok[reg]} |")
        if sec.diffs:
            out += [
                "",
                "Paired difference new − opponent over seeds, in points, with 95% CI "
                f"(for ECE, lower is better); P(improvement) on {ptitle}:",
                "",
                "| opponent | " + " | ".join(f"Δ {t}" for _, t, _ in METRICS) + " | P(improvement) |",
                "|---|" + "---:|" * (len(METRICS) + 1),
            ]
            for opp, diffs in sec.diffs.items():
                cells = " | ".join(_diff(diffs[m]) for m, _, _ in METRICS)
                poi = "—" if math.isnan(sec.poi[opp]) else f"{sec.poi[opp]:.2f}"
                out.append(f"| {md(opp)} | {cells} | {poi} |")
            out += [""] + [f"**Verdict:** {md(line)}  " for line in sec.lines.values()]
        else:
            out += ["", "**Verdict:** none — no baseline has a finished run here."]
    return "\n".join(out) + "\n"
