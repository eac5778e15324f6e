"""Leaderboard plots over shift: accuracy and ECE against corruption severity, and the
reliability diagrams of ID and OOD predictions. Each is skipped (None) when the records have
no data for it; ``plots.plot_all`` writes them with the others.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from regbench.report.render import theme
from regbench.report.table.aggregate import BASELINE, Leaderboard


def _severity_rows(lb: Leaderboard, metrics: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Covariate OOD rows of ``metric`` with a severity, for ok runs, labelled by regularizer."""
    t = lb.runs_table
    ok_reg = t[t["status"] == "ok"].set_index("run_key")["regularizer"]
    m = metrics[(metrics["metric"] == metric) & (metrics["family"] == "covariate") & metrics["severity"].notna()]
    m = m[m["run_key"].isin(ok_reg.index)]
    return m.assign(regularizer=m["run_key"].map(ok_reg)).sort_values(["run_key", "split"], kind="stable")


def _severity_panel(ax, curve: pd.Series, lb: Leaderboard, scale: float = 100.0) -> None:
    """One line per regularizer over severity; erm a thick black reference, the top few labelled."""
    colors, labelled = theme.leaderboard_style(lb, BASELINE)
    ends = {}
    regs = [r for r in lb.main["regularizer"] if r in curve.index.get_level_values(0)]
    for reg in regs[::-1]:  # best ranked drawn last, on top
        c = curve.loc[reg]
        base, big = reg == BASELINE, reg in labelled
        ax.plot(
            c.index,
            scale * c.to_numpy(),
            marker="o" if big else None,
            ms=3,
            color=colors.get(reg, "0.5"),
            lw=2.2 if base else (1.4 if big else 0.8),
            ls="--" if base else "-",
            alpha=1.0 if big else 0.45,
            zorder=5 if base else (4 if big else 2),
        )
        if big:
            ends[reg] = (float(c.index[-1]), float(scale * c.iloc[-1]))
    theme.whole_number_ticks(ax.xaxis, curve.index.get_level_values(1))
    theme.label_ends(ax, ends, colors)


@theme.themed
def accuracy_vs_severity(lb: Leaderboard, metrics: pd.DataFrame):
    """A panel per corruption: accuracy against severity per regularizer, erm as the reference."""
    m = _severity_rows(lb, metrics, "accuracy")
    if m.empty:
        return None
    shifts = sorted(m["shift"].dropna().unique())
    ncols = min(3, len(shifts))
    nrows = -(-len(shifts) // ncols)
    fig, axes = theme.figure(3.3 * ncols + 1.8, 2.7 * nrows + 0.5, ncols, nrows, sharey=True)
    for ax in axes.ravel()[len(shifts) :]:
        ax.set_visible(False)
    for ax, shift in zip(axes.ravel(), shifts):
        curve = m[m["shift"] == shift].groupby(["regularizer", "severity"], sort=True)["value"].mean()
        _severity_panel(ax, curve, lb)
        ax.set_title(str(shift))
        ax.set_xlabel("severity")
        ax.set_ylabel("OOD accuracy (%)")
    _severity_legend(fig, lb)
    theme.question(fig, "How fast does accuracy fall with corruption severity, compared with erm? (mean over seeds)")
    return fig


def _severity_legend(fig, lb: Leaderboard) -> None:
    """The kind legend of a severity plot, with erm's dashed reference line."""
    from matplotlib.lines import Line2D

    ref = [(Line2D([], [], color=theme.BASELINE_COLOR, lw=2.2, ls="--"), f"{BASELINE} (reference)")]
    theme.kind_legend(fig, theme.regularizer_kinds(lb).values(), ref)


@theme.themed
def ece_vs_severity(lb: Leaderboard, metrics: pd.DataFrame):
    """Mean ECE over covariate OOD splits at each corruption severity, one line per regularizer."""
    m = _severity_rows(lb, metrics, "ece")
    if m.empty:
        return None
    curve = m.groupby(["regularizer", "severity"], sort=True)["value"].mean()
    fig, axes = theme.figure(7.5, 4.2)
    ax = axes[0, 0]
    _severity_panel(ax, curve, lb)
    ax.set_xlabel("corruption severity")
    ax.set_ylabel("ECE (%), mean over corruptions and seeds")
    _severity_legend(fig, lb)
    theme.question(fig, "Does calibration hold up as corruptions get stronger? (lower = better calibrated)")
    return fig


def _best_other(lb: Leaderboard) -> str | None:
    others = [r for r in lb.main["regularizer"] if r != BASELINE]
    return others[0] if others else None


@theme.themed
def reliability_diagrams(lb: Leaderboard, reliability: pd.DataFrame):
    """Reliability diagrams on test_id and the pooled OOD splits for erm and the best other,
    each over a histogram of how many predictions fall in each confidence bin."""
    regs = [r for r in (BASELINE, _best_other(lb)) if r is not None and r in set(lb.main["regularizer"])]
    t = lb.runs_table
    key_reg = t[(t["status"] == "ok") & t["regularizer"].isin(regs)].set_index("run_key")["regularizer"]
    rel = reliability[reliability["run_key"].isin(key_reg.index) & (reliability["count"] > 0)]
    if rel.empty:
        return None
    split = rel["split"].astype(str)
    rel = rel.assign(
        regularizer=rel["run_key"].map(key_reg),
        where=np.where(split == "test_id", "ID (test_id)", np.where(split.str.startswith("ood/"), "OOD (all)", "")),
    )
    rel = rel[rel["where"] != ""].sort_values(["run_key", "split", "bin"], kind="stable")
    rel = rel.assign(wc=rel["confidence"] * rel["count"], wa=rel["accuracy"] * rel["count"])
    agg = rel.groupby(["where", "regularizer", "bin"], sort=True)[["wc", "wa", "count"]].sum()
    fig, axes = theme.figure(9, 4.6, ncols=2, nrows=2, sharex=True, height_ratios=[3, 1])
    colors = {BASELINE: theme.BASELINE_COLOR} | {r: "tab:blue" for r in regs if r != BASELINE}
    n_bins = int(rel["bin"].max()) + 1
    for j, where in enumerate(("ID (test_id)", "OOD (all)")):
        ax, hist = axes[0, j], axes[1, j]
        ax.plot([0, 1], [0, 1], ls=":", color="0.4", lw=0.8)
        for k, reg in enumerate(regs):
            if (where, reg) in agg.index.droplevel(2):
                a = agg.loc[(where, reg)]
                conf = a["wc"] / a["count"]
                ax.plot(conf, a["wa"] / a["count"], marker="o", ms=3, color=colors[reg])
                width = 1 / n_bins / len(regs)
                centers = (a.index.to_numpy() + 0.5) / n_bins
                hist.bar(centers + (k - (len(regs) - 1) / 2) * width, a["count"], width, color=colors[reg], alpha=0.6)
        ax.set_title(where)
        ax.set_ylabel("accuracy")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        hist.set_xlabel("confidence")
        hist.set_ylabel("predictions")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colors[r], marker="o", ms=3) for r in regs]
    handles.append(Line2D([], [], color="0.4", ls=":"))
    fig.legend(handles, [*regs, "perfect calibration"], loc="outside right upper", fontsize=7)
    theme.question(fig, "Is confidence a probability? (on the diagonal = calibrated; bars: predictions per bin)")
    return fig
