"""``compare``'s Markdown report: per section a table of means, a table of paired differences,
the verdicts and every metric that got significantly worse (the sections come from
:func:`regbench.report.compare.build_sections`)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from regbench.report.compare import METRICS, OVERALL, PRIMARY, Metric, Section
from regbench.report.render import markdown
from regbench.report.render.markdown import md
from regbench.report.stats.estimate import Estimate


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
        if sec.name == OVERALL:
            title = "Overall (each distinct training setup once: " + md(", ".join(sec.benchmarks)) + ")"
        else:
            title = f"Benchmark {md(sec.name)}"
        out += ["", f"## {title}", ""]
        if not math.isnan(sec.mdd):
            out += [f"Detects {ptitle} differences ≥ {100 * sec.mdd:.2f} points with 80% power here.", ""]
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
                f"Paired difference new − opponent (accuracy and ECE in points, train CPU time in seconds) with "
                f"95% CI: {ptitle} paired over seeds × test images where per-image predictions are stored, the "
                "rest Student t over seeds (for ECE and time, lower is better; time carries no significance "
                f"claim); P(improvement) on {ptitle}:",
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
