"""The "Paired differences to erm" section of a leaderboard's README.md and its vs_erm.csv."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from regbench.report.render.escape import csv_frame
from regbench.report.render.markdown import table
from regbench.report.table.versus_baseline import BASELINE

LABELS = {"ood_accuracy": "OOD acc", "id_accuracy": "ID acc"}


def section(vs: pd.DataFrame | None, benches: list[str], regs: list[str], level: float) -> list[str]:
    """Markdown lines: per metric, a table regularizer × benchmark of "+d [lo, hi]" in points
    (accuracies ×100); "*" marks p < 0.05 before multiplicity correction. [] without erm."""
    if vs is None or vs.empty:
        return []
    lines = [
        f"## Paired differences to {BASELINE}",
        "",
        f"Each row minus {BASELINE} on the same seeds and test images (the paired test the tiers use, "
        f"read off at {BASELINE}: seeds × image clusters where per-image outcomes are stored), with its "
        f"{level:.0%} interval, in points. * : p < 0.05 for that one comparison (no correction for the "
        "others; the tiers above correct over all pairs).",
        "",
    ]
    for metric, grp in vs.groupby("metric", sort=False):
        label = LABELS.get(str(metric), str(metric))
        cells = {(r.benchmark, r.regularizer): r for r in grp.itertuples()}
        here = [b for b in benches if any(k[0] == b for k in cells)]
        header = ["Regularizer"] + [f"{label}: {b}" for b in here]
        body = []
        for reg in regs:
            if reg == BASELINE or not any((b, reg) in cells for b in here):
                continue
            body.append([reg] + [_cell(cells.get((b, reg))) for b in here])
        lines += [f"### {label}", ""] + table(header, body) + [""]
    return lines


def _cell(r) -> str:
    if r is None:
        return "–"
    scale = 100.0
    star = "*" if r.p < 0.05 else ""
    return f"{scale * r.difference:+.1f} [{scale * r.lo:+.1f}, {scale * r.hi:+.1f}]{star}"


def write_csv(vs: pd.DataFrame | None, path: Path) -> bool:
    """vs_erm.csv (fractions, as stored); False (nothing written) without erm."""
    if vs is None or vs.empty:
        return False
    csv_frame(vs).to_csv(path, index=False, float_format="%.6g")
    return True
