"""Leaderboard plots over shift: accuracy and ECE against corruption severity (each point with
its 95% Student-t interval over seeds), and the reliability diagrams of ID and OOD predictions
(bins with fewer than MIN_BIN_COUNT predictions merged into their neighbour, each point with
its Wilson interval). Each is skipped (None) when the records have no data for it;
``plots.plot_all`` writes them with the others.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from regbench.report.render import theme
from regbench.report.stats.intervals import binomial_variance, t_interval
from regbench.report.table.aggregate import BASELINE, Leaderboard

MIN_BIN_COUNT = 10  # a reliability point stands for at least this many predictions
DODGE = 0.025  # x offset between regularizers' interval bars, in severity units per row


def _severity_rows(lb: Leaderboard, metrics: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Covariate OOD rows of ``metric`` with a severity, for ok runs, labelled by regularizer."""
    t = lb.runs_table
    ok_reg = t[t["status"] == "ok"].set_index("run_key")["regularizer"]
    m = metrics[(metrics["metric"] == metric) & (metrics["family"] == "covariate") & metrics["severity"].notna()]
    m = m[m["run_key"].isin(ok_reg.index)]
    return m.assign(regularizer=m["run_key"].map(ok_reg)).sort_values(["run_key", "split"], kind="stable")


def _severity_curve(rows: pd.DataFrame, sampling: bool) -> pd.DataFrame:
    """Per (regularizer, severity): the mean over seeds and its 95% t interval.

    rows: one value per run and split; a run's splits at one severity are averaged first (ECE
    over corruptions). With ``sampling`` (accuracy) the interval also holds the test split's
    binomial error, as the leaderboard's cells do. Returns columns mean, lo, hi indexed by
    (regularizer, severity).
    """
    per_run = rows.groupby(["regularizer", "severity", "run_key"], sort=True).agg(
        value=("value", "mean"), n=("n", "sum")
    )
    out = {}
    for key, g in per_run.groupby(level=[0, 1], sort=True):
        v = g["value"].to_numpy()
        var = float(np.mean(binomial_variance(v, g["n"].to_numpy())) / len(v)) if sampling else 0.0
        mean, lo, hi, _ = t_interval(v, var)
        out[key] = (float(mean), float(lo), float(hi))
    idx = pd.MultiIndex.from_tuples(list(out), names=["regularizer", "severity"])
    return pd.DataFrame(list(out.values()), index=idx, columns=["mean", "lo", "hi"])


def _severity_panel(ax, curve: pd.DataFrame, lb: Leaderboard, scale: float = 100.0) -> None:
    """One line per regularizer over severity with its interval bars (dodged sideways so they
    do not cover each other); erm a thick black dashed reference, the top few labelled."""
    colors, labelled = theme.leaderboard_style(lb, BASELINE)
    styles = theme.leaderboard_styles(lb)
    ends = {}
    regs = [r for r in lb.main["regularizer"] if r in curve.index.get_level_values(0)]
    for i, reg in list(enumerate(regs))[::-1]:  # best ranked drawn last, on top
        c = curve.loc[reg]
        base, big = reg == BASELINE, reg in labelled
        st = styles.get(reg, theme.Style("0.5", "o", "-"))
        x = c.index.to_numpy(dtype=float) + (i - (len(regs) - 1) / 2) * DODGE
        mean, lo, hi = (scale * c[k].to_numpy() for k in ("mean", "lo", "hi"))
        err = np.vstack([np.where(np.isfinite(lo), mean - lo, 0.0), np.where(np.isfinite(hi), hi - mean, 0.0)])
        ax.errorbar(
            x,
            mean,
            yerr=err,
            marker=st.marker,
            ms=3.5 if big else 2.5,
            color=st.color,
            lw=2.2 if base else (1.4 if big else 0.8),
            ls="--" if base else st.linestyle,
            elinewidth=0.7,
            capsize=1.5,
            alpha=1.0 if big else 0.55,
            zorder=5 if base else (4 if big else 2),
        )
        if big:
            ends[reg] = (float(x[-1]), float(mean[-1]))
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
        _severity_panel(ax, _severity_curve(m[m["shift"] == shift], sampling=True), lb)
        ax.set_title(str(shift))
        ax.set_xlabel("severity")
        ax.set_ylabel("OOD accuracy (%)")
    _severity_legend(fig, lb)
    theme.question(fig, "How fast does accuracy fall with corruption severity, compared with erm? (mean, 95% CI)")
    return fig


def _severity_legend(fig, lb: Leaderboard) -> None:
    """The regularizer legend of a severity plot, with erm's dashed reference line."""
    from matplotlib.lines import Line2D

    ref = [
        (Line2D([], [], color=theme.BASELINE_COLOR, lw=2.2, ls="--"), f"{BASELINE} (reference)"),
        (Line2D([], [], color="0.3", marker="|", ls="", ms=8), "95% CI over seeds"),
    ]
    theme.regularizer_legend(fig, theme.regularizer_kinds(lb), ref)


@theme.themed
def ece_vs_severity(lb: Leaderboard, metrics: pd.DataFrame):
    """Mean ECE over covariate OOD splits at each corruption severity, one line per regularizer."""
    m = _severity_rows(lb, metrics, "ece")
    if m.empty:
        return None
    curve = _severity_curve(m, sampling=False)
    fig, axes = theme.figure(7.5, 4.2)
    ax = axes[0, 0]
    _severity_panel(ax, curve, lb)
    ax.set_xlabel("corruption severity")
    ax.set_ylabel("ECE (%), mean over corruptions and seeds")
    _severity_legend(fig, lb)
    theme.question(fig, "Does calibration hold up as corruptions get stronger? (lower = better calibrated)")
    return fig


def merged_bins(counts: np.ndarray, min_count: int = MIN_BIN_COUNT) -> np.ndarray:
    """Group ids over consecutive confidence bins so that every group holds at least
    ``min_count`` predictions: a bin joins the next until the group is full, and a short last
    group joins the one before it. counts: (B,) predictions per non-empty bin, in bin order.
    Returns (B,) group ids 0..G-1; all one group when the bins hold fewer than min_count in all.
    """
    groups = np.zeros(len(counts), dtype=int)
    g, filled = 0, 0
    for i, c in enumerate(counts):
        groups[i] = g
        filled += c
        if filled >= min_count and i < len(counts) - 1:
            g, filled = g + 1, 0
    if len(counts) and filled < min_count and g > 0:
        groups[groups == g] = g - 1
    return groups


def wilson(p: np.ndarray, n: np.ndarray, z: float = 1.959964) -> tuple[np.ndarray, np.ndarray]:
    """95% Wilson score interval (lo, hi) of accuracies ``p`` measured on ``n`` predictions."""
    p, n = np.asarray(p, dtype=float), np.asarray(n, dtype=float)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def _best_other(lb: Leaderboard) -> str | None:
    others = [r for r in lb.main["regularizer"] if r != BASELINE]
    return others[0] if others else None


@theme.themed
def reliability_diagrams(lb: Leaderboard, reliability: pd.DataFrame):
    """Reliability diagrams on test_id and the pooled OOD splits for erm and the best other,
    each over a histogram of how many predictions fall in each confidence bin. Bins with fewer
    than MIN_BIN_COUNT predictions are merged with their neighbours before they are drawn; each
    point has its 95% Wilson interval."""
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
    styles = theme.leaderboard_styles(lb)
    colors = {r: styles[r].color if r in styles else theme.BASELINE_COLOR for r in regs}
    n_bins = int(rel["bin"].max()) + 1
    for j, where in enumerate(("ID (test_id)", "OOD (all)")):
        ax, hist = axes[0, j], axes[1, j]
        ax.plot([0, 1], [0, 1], ls=":", color="0.4", lw=0.8)
        for k, reg in enumerate(regs):
            if (where, reg) in agg.index.droplevel(2):
                a = agg.loc[(where, reg)]
                merged = a.groupby(merged_bins(a["count"].to_numpy()))[["wc", "wa", "count"]].sum()
                conf, acc = merged["wc"] / merged["count"], merged["wa"] / merged["count"]
                lo, hi = wilson(acc.to_numpy(), merged["count"].to_numpy())
                ax.errorbar(
                    conf,
                    acc,
                    yerr=np.clip(np.vstack([acc - lo, hi - acc]), 0, None),  # round-off at p = 0 or 1
                    marker=styles[reg].marker if reg in styles else "o",
                    ms=3,
                    color=colors[reg],
                    elinewidth=0.7,
                    capsize=1.5,
                )
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

    handles = [Line2D([], [], color=colors[r], marker=styles[r].marker if r in styles else "o", ms=3) for r in regs]
    handles.append(Line2D([], [], color="0.4", ls=":"))
    handles.append(Line2D([], [], color="0.3", marker="|", ls="", ms=8))
    labels = [*regs, "perfect calibration", f"95% Wilson CI; bins < {MIN_BIN_COUNT} predictions merged"]
    fig.legend(handles, labels, loc="outside right upper", fontsize=7)
    theme.question(fig, "Is confidence a probability? (on the diagonal = calibrated; bars: predictions per bin)")
    return fig
