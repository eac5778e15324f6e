"""A suite's budget curve, drawn and tabulated: accuracy against training epochs per regularizer.

The cells come from ``report.table.budget_curve.budget_cells``. The plot has a panel per
benchmark (and one for the mean over benchmarks): OOD accuracy solid, ID accuracy dashed,
each point with its 95% interval, erm black. The table gives each budget's cells and every
row's paired difference to erm, the evidence for "where does the regularizer start to pay".
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from regbench.report.render import theme
from regbench.report.render.escape import md
from regbench.report.table.budget_curve import ALL_BENCHMARKS
from regbench.report.table.columns import BASELINE

TITLE = "Accuracy vs training budget: where does a regularizer start to pay?"
FILE = "budget_curve.png"
LINES = {"ood_accuracy": ("-", "OOD"), "id_accuracy": ("--", "ID")}


@theme.themed
def budget_curve_plot(cells: pd.DataFrame, kinds: dict[str, str]):
    """A Figure: per benchmark, mean accuracy (%) against epochs for each regularizer of ``cells``
    (``budget_cells`` rows), OOD solid and ID dashed, with 95% intervals; None without cells.

    kinds: regularizer → kind, for the leaderboard's colours and markers."""
    if cells.empty:
        return None
    benches = list(dict.fromkeys(cells["benchmark"]))
    regs = sorted(dict.fromkeys(cells["regularizer"]), key=lambda r: r != BASELINE)  # erm first, drawn under
    styles = theme.regularizer_styles({r: kinds.get(r, "none") for r in regs})
    ncols = min(3, len(benches))
    nrows = math.ceil(len(benches) / ncols)
    fig, axes = theme.figure(3.4 * ncols + 1.8, 3.0 * nrows + 0.5, ncols, nrows)
    for ax in axes.ravel()[len(benches) :]:
        ax.set_visible(False)
    for ax, bench in zip(axes.ravel(), benches):
        for reg in regs:
            for metric, (line, what) in LINES.items():
                c = cells[(cells["benchmark"] == bench) & (cells["regularizer"] == reg) & (cells["metric"] == metric)]
                if c.empty:
                    continue
                x, m = c["epochs"].to_numpy(), 100 * c["mean"].to_numpy()
                err = 100 * np.abs(np.vstack([c["mean"] - c["lo"], c["hi"] - c["mean"]]).astype(float))
                ax.errorbar(
                    x,
                    m,
                    yerr=np.nan_to_num(err),
                    ls=line,
                    marker=styles[reg].marker,
                    ms=4,
                    lw=2.0 if reg == BASELINE else 1.2,
                    capsize=2,
                    color=styles[reg].color,
                    label=f"{reg} {what}",
                )
        ax.set_title(bench)
        ax.set_xlabel("epochs")
        ax.set_ylabel("accuracy (%)")
        theme.whole_number_ticks(ax.xaxis, sorted(cells["epochs"].unique()))
    handles = {}
    for ax in axes.ravel():
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles), loc="outside right upper", fontsize=7)
    theme.question(fig, TITLE + " Mean over seeds, 95% CI")
    return fig


def budget_curve_markdown(cells: pd.DataFrame, suite_epochs: int | None = None) -> str:
    """The cells as one Markdown table per benchmark: each budget's OOD and ID accuracy and the
    paired difference to erm (points, 95% interval, p); ``suite_epochs`` marks the suite's own
    budget (the ranked one)."""
    parts = []
    for bench, b in cells.groupby("benchmark", sort=False):
        rows = []
        for (epochs, reg), g in b.groupby(["epochs", "regularizer"], sort=True):
            by = {m: r for m, r in zip(g["metric"], g.to_dict("records"))}
            mark = " (suite)" if suite_epochs is not None and epochs == suite_epochs else ""
            cols = [f"{epochs}{mark}", md(reg), str(int(max(r["seeds"] for r in by.values())))]
            cols += [_cell(by.get(m)) for m in LINES]
            cols += [_diff(by.get(m)) for m in LINES]
            rows.append("| " + " | ".join(cols) + " |")
        head = "| Epochs | Regularizer | Seeds | OOD acc | ID acc | OOD − erm (p) | ID − erm (p) |"
        title = "All benchmarks (mean of each seed over the benchmarks)" if bench == ALL_BENCHMARKS else md(bench)
        parts.append(f"### {title}\n\n{head}\n|---|---|---|---|---|---|---|\n" + "\n".join(rows))
    return "\n\n".join(parts)


def _cell(r: dict | None) -> str:
    if r is None or not np.isfinite(r["mean"]):
        return "–"
    if not np.isfinite(r["lo"]):
        return f"{100 * r['mean']:.1f}"
    return f"{100 * r['mean']:.1f} [{100 * r['lo']:.1f}, {100 * r['hi']:.1f}]"


def _diff(r: dict | None) -> str:
    if r is None or not np.isfinite(r["diff"]):
        return "–"
    if not np.isfinite(r["diff_lo"]):
        return f"{100 * r['diff']:+.1f}"
    return f"{100 * r['diff']:+.1f} [{100 * r['diff_lo']:+.1f}, {100 * r['diff_hi']:+.1f}] (p = {r['p']:.2f})"
