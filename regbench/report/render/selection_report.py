"""A sweep's choices with their reasons: selection.md sections, selection.json, and the suite YAML rows.

The choices are ``table.selection_rule``'s (validation and training-side numbers only). The
YAML rows carry generated comments (space, plain argmax, pick, mechanism numbers per
benchmark), so a suite's tuned strengths and their reasons are written by the sweep, not typed.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from regbench.report.render import markdown
from regbench.report.table.selection_rule import Candidate, Choice


def _pct(x: float) -> str:
    return "–" if not math.isfinite(x) else f"{100 * x:.2f}"


def _change(x: float, rule: str | None) -> str:
    if not math.isfinite(x):
        return "–"
    return f"{100 * x:.1f}%" if rule == "fraction" else f"{100 * x:+.1f}%"


def _params(row: Mapping[str, Any] | str | None) -> str:
    """``lam=0.000352`` from a suite row's stack members' parameters; "defaults" when none."""
    if not row:
        return ""
    stack = [] if isinstance(row, str) else row.get("stack", [])
    items = [f"{k}={v}" for member in stack if isinstance(member, dict) for k, v in member.items() if k != "name"]
    return ", ".join(items) or "defaults"


def choices_markdown(choices: Mapping[tuple[str, str], Choice], rows: Mapping[str, Mapping[str, Any]]) -> str:
    """One section per choice: the reason, then every candidate with its score, mechanism number
    and whether it was in the one-SE band. ``rows``: candidate label → its suite YAML row."""
    out = []
    for (group, base), c in choices.items():
        out += [
            f"### {markdown.md(base)} — {markdown.md(group)}",
            "",
            f"Chosen **{markdown.md(c.label)}** ({markdown.md(_params(rows.get(c.label)))}): {markdown.md(c.reason)}.",
            "",
        ]
        header = ["candidate", "params", "mean val acc (%)" if c.rule != "val_loss" else "mean val NLL"]
        header += ["|change| (%)", "in band"] if c.rule == "one_se" else []
        header += ["chosen"]
        table = []
        for cand in c.candidates:
            score = _pct(cand.score) if c.rule != "val_loss" else f"{cand.score:.4f}"
            line = [cand.label, _params(rows.get(cand.label)) or "—", score if cand.eligible else "not eligible"]
            if c.rule == "one_se":
                line += [_pct(cand.mechanism), "yes" if cand.in_band else "no"]
            line += ["**yes**" if cand.label == c.label else ""]
            table.append(line)
        out += markdown.table(header, table, "ll" + "r" * (len(header) - 2)) + [""]
    return "\n".join(out)


def _candidate_json(c: Candidate, rows: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    def num(x: float) -> float | None:
        return x if math.isfinite(x) else None

    return {
        "label": c.label,
        "row": rows.get(c.label),
        "eligible": c.eligible,
        "val_score": num(c.score),
        "val_score_per_benchmark": {b: num(v) for b, v in c.per_benchmark.items()},
        "mechanism_abs_change": num(c.mechanism),
        "mechanism_change_per_benchmark": {b: num(v) for b, v in c.per_benchmark_mechanism.items()},
        "in_band": c.in_band,
        "run_keys": list(c.run_keys),
    }


def selection_json(
    choices: Mapping[tuple[str, str], Choice], rows: Mapping[str, Mapping[str, Any]], meta: Mapping[str, Any]
) -> dict[str, Any]:
    """The machine-readable selection: ``meta`` (suite, sweep, rule…) and per choice the chosen
    row, the best mean, the SE band and every candidate."""
    return {
        **meta,
        "choices": [
            {
                "benchmark": group,
                "regularizer": base,
                "rule": c.rule,
                "chosen": c.label,
                "chosen_row": rows.get(c.label),
                "argmax": c.best_label,
                "best_mean": c.best_score,
                "se": c.se,
                "band_low": c.band_low,
                "mechanism": c.mechanism,
                "reason": c.reason,
                "candidates": [_candidate_json(x, rows) for x in c.candidates],
            }
            for (group, base), c in choices.items()
        ],
    }


def flow_row(row: Mapping[str, Any] | str) -> str:
    """A suite row in the suites' one-line flow style: ``{stack: [{name: l2, lam: 0.000352}], label: l2}``."""
    if isinstance(row, str):
        return row
    return yaml.safe_dump(dict(row), default_flow_style=True, sort_keys=False, width=10**6).strip()


def yaml_rows(
    choices: Sequence[Choice],
    rows: Mapping[str, Mapping[str, Any] | str],
    spaces: Mapping[str, str],
) -> str:
    """The ``regularizers:`` rows of the chosen configs (one per regularizer, so per-suite choices),
    each under generated comments: its search space, the plain argmax, the pick and its
    mechanism numbers per benchmark (signed). ``spaces``: base name → its space in words."""
    lines = ["regularizers:"]
    for c in choices:
        pick, best = c.chosen, next(x for x in c.candidates if x.label == c.best_label)
        notes = [f"{c.regularizer} {spaces[c.regularizer]}" if c.regularizer in spaces else c.regularizer]
        if c.label != best.label or c.rule == "one_se":
            notes.append(f"argmax {_params(rows.get(best.label))} (mean val acc {_pct(best.score)}%)")
        if c.rule == "one_se":
            pick_text = (
                f"one-SE pick {_params(rows.get(pick.label))} (band >= {_pct(c.band_low)}%, SE {_pct(c.se)} points)"
            )
            if c.mechanism:
                benches = "/".join(pick.per_benchmark_mechanism)
                changes = "/".join(_change(v, c.mechanism_rule) for v in pick.per_benchmark_mechanism.values())
                pick_text += f": {c.mechanism} {changes} ({benches})"
            else:
                pick_text += ": no mechanism number, the best mean"
            notes.append(pick_text)
        elif c.label == best.label and len(c.candidates) > 1:
            notes.append(f"pick {_params(rows.get(pick.label))}")
        if len(c.candidates) > 1:
            lines += textwrap.wrap("; ".join(notes), 100, initial_indent="  # ", subsequent_indent="  # ")
        lines.append(f"  - {flow_row(rows[c.label])}")
    return "\n".join(lines) + "\n"
