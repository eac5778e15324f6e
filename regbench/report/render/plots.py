"""Leaderboard plots (PNG, and SVG beside each), one question each, stated in the figure's title;
each is skipped with a note when it has no data.

Every plot builds a ``matplotlib.figure.Figure`` under the one theme of
:mod:`regbench.report.render.theme`: regularizers coloured by kind with a marker each, erm
black, direct labels for the top three and erm, legends outside the axes, and every
regularizer's estimate drawn with its 95% interval (the leaderboard cell's lo/hi). The plots over shift severity and the reliability
diagrams are in ``shift_plots``. ``figures`` returns them all unsaved (tests inspect
legends); ``plot_all`` writes them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from regbench.report.render import theme
from regbench.report.render.shift_plots import accuracy_vs_severity, ece_vs_severity, reliability_diagrams
from regbench.report.table.aggregate import BASELINE, Leaderboard

EPS = 1e-4  # probit axes clip 0 % and 100 %
MAX_POINTS = 2000  # runs drawn per benchmark panel; beyond that an even subsample (drawing cost)


@theme.themed
def id_vs_ood(lb: Leaderboard):
    """Per benchmark: every ok run (grey), each regularizer's mean, and the probit-linear fit."""
    from matplotlib.lines import Line2D
    from scipy.special import ndtr, ndtri

    t = lb.runs_table
    t = t[(t["status"] == "ok") & np.isfinite(t["id_accuracy"]) & np.isfinite(t["ood_accuracy"])]
    present = set(pd.unique(t["benchmark"]))
    benches = [b for b in lb.per_benchmark["benchmark"].drop_duplicates() if b in present]
    if not benches:
        return None
    ncols = min(3, len(benches))
    nrows = -(-len(benches) // ncols)
    fig, axes = theme.figure(3.4 * ncols + 1.6, 3.0 * nrows + 0.5, ncols, nrows)
    colors, labelled = theme.leaderboard_style(lb, BASELINE)
    styles = theme.leaderboard_styles(lb)
    probit = lambda a: ndtri(np.clip(a, EPS, 1 - EPS))  # noqa: E731
    for ax in axes.ravel()[len(benches) :]:
        ax.set_visible(False)
    for ax, bench in zip(axes.ravel(), benches):
        g = t[t["benchmark"] == bench]
        x, y = probit(g["id_accuracy"].to_numpy()), probit(g["ood_accuracy"].to_numpy())
        step = max(1, -(-len(x) // MAX_POINTS))
        ax.plot(x[::step], y[::step], ls="", marker=".", ms=2, color="0.75", rasterized=True)
        cells = lb.per_benchmark[lb.per_benchmark["benchmark"] == bench]
        cells = cells[np.isfinite(cells["id_accuracy"]) & np.isfinite(cells["ood_accuracy"])]
        # two collections per panel (labelled on top), not one per regularizer: a scatter call per
        # point costs seconds of drawing on a 100k-run leaderboard
        big = cells["regularizer"].isin(labelled).to_numpy()
        px, py = probit(cells["id_accuracy"].to_numpy()), probit(cells["ood_accuracy"].to_numpy())
        shade = [colors.get(r, "0.5") for r in cells["regularizer"]]
        marks = np.array([styles[r].marker if r in styles else "o" for r in cells["regularizer"]])
        # each cell's 95% interval on both axes (one collection each, NaN bounds drawn as none)
        for lo_key, hi_key, draw, at in (
            ("id_accuracy_lo", "id_accuracy_hi", ax.hlines, py),
            ("ood_accuracy_lo", "ood_accuracy_hi", ax.vlines, px),
        ):
            lo, hi = probit(cells[lo_key].to_numpy(dtype=float)), probit(cells[hi_key].to_numpy(dtype=float))
            draw(at, lo, hi, colors=shade, lw=0.6, alpha=0.55, zorder=2)
        for keep_kind, size, z in ((~big, 18, 3), (big, 34, 4)):
            for mark in sorted(set(marks)):  # one collection per marker shape, not per point
                keep = keep_kind & (marks == mark)
                ax.scatter(
                    px[keep],
                    py[keep],
                    s=size,
                    c=[c for c, k in zip(shade, keep) if k],
                    marker=mark,
                    edgecolors="white",
                    linewidths=0.5,
                    zorder=z,
                )
        points = {r: (a, b) for r, a, b, k in zip(cells["regularizer"], px, py, big) if k}
        fit = lb.fits.get(bench)
        if fit:
            xs = np.linspace(x.min(), x.max(), 20)
            ax.plot(xs, fit["intercept"] + fit["slope"] * xs, color="0.3", lw=1, ls="--")
        for axis, lim in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            # 4 ticks inside the final limits (the intervals widen them past the runs)
            pad = 0.08 * (lim[1] - lim[0])
            ticks = np.linspace(lim[0] + pad, lim[1] - pad, 4)
            axis.set_ticks(ticks, labels=[f"{100 * v:.1f}" for v in ndtr(ticks)])
        theme.label_points(ax, points, colors)
        ax.set_title(bench)
        ax.set_xlabel("ID accuracy (%, probit scale)")
        ax.set_ylabel("OOD accuracy (%, probit scale)")
    extra = [
        (Line2D([], [], color="0.3", ls="--"), "probit fit over all runs"),
        (Line2D([], [], color="0.75", marker=".", ls=""), "one run"),
        (Line2D([], [], color="0.4", marker="+", ls="", ms=8), "mean, 95% CI on both axes"),
    ]
    theme.regularizer_legend(fig, theme.regularizer_kinds(lb), extra, lines=False)
    theme.question(fig, "Which regularizers are more robust than their ID accuracy predicts? (above the line = yes)")
    return fig


def _interval_plot(lb: Leaderboard, key: str, xlabel: str, title: str):
    d = lb.main[np.isfinite(lb.main[key])]
    if d.empty:
        return None
    fig, axes = theme.figure(7, 1.1 + 0.26 * len(d))
    ax = axes[0, 0]
    colors, _ = theme.leaderboard_style(lb, BASELINE)
    y = np.arange(len(d))[::-1]
    mean, lo, hi = (100 * d[k].to_numpy() for k in (key, key + "_lo", key + "_hi"))
    err = np.vstack([mean - np.where(np.isfinite(lo), lo, mean), np.where(np.isfinite(hi), hi, mean) - mean])
    ax.errorbar(mean, y, xerr=err, fmt="none", ecolor="0.5", capsize=2, lw=0.8)
    styles = theme.leaderboard_styles(lb)
    for reg, yi, mi in zip(d["regularizer"], y, mean):
        st = styles.get(reg, theme.Style("0.5", "o", "-"))
        ax.scatter([mi], [yi], color=[st.color], marker=st.marker, s=22, zorder=3)
    ax.set_yticks(y, labels=list(d["regularizer"]))
    ax.set_xlabel(xlabel)
    theme.kind_legend(fig, theme.regularizer_kinds(lb).values())
    theme.question(fig, title)
    return fig


@theme.themed
def generalization_gap(lb: Leaderboard):
    """Train - test_id accuracy per regularizer with its interval (leaderboard order)."""
    return _interval_plot(
        lb,
        "gen_gap",
        "train − test_id accuracy (points), mean over benchmarks, 95% CI",
        "Which regularizers close the gap between train and test accuracy?",
    )


@theme.themed
def cost_vs_gain(lb: Leaderboard):
    """CPU cost relative to erm against OOD accuracy gain over erm; the Pareto front joined."""
    from matplotlib.lines import Line2D

    m = lb.main
    if BASELINE not in set(m["regularizer"]):
        return None
    base = float(m.loc[m["regularizer"] == BASELINE, "ood_accuracy"].iloc[0])
    d = m.assign(gain=100 * (m["ood_accuracy"] - base))
    d = d[np.isfinite(d["gain"]) & np.isfinite(d["cost_vs_erm"]) & (d["cost_vs_erm"] > 0)]
    if d.empty:
        return None
    d = d.sort_values(["cost_vs_erm", "gain", "regularizer"], ascending=[True, False, True], kind="stable")
    front = d[d["gain"] >= d["gain"].cummax()]  # nothing cheaper gains more
    fig, axes = theme.figure(7.5, 4.5)
    ax = axes[0, 0]
    colors, labelled = theme.leaderboard_style(lb, BASELINE)
    styles = theme.leaderboard_styles(lb)
    shade = [colors.get(r, "0.5") for r in d["regularizer"]]
    # 95% intervals: the row's OOD accuracy interval shifted by erm's mean, and its cost ratio's
    gain_lo, gain_hi = (100 * (d[k].to_numpy(dtype=float) - base) for k in ("ood_accuracy_lo", "ood_accuracy_hi"))
    ax.vlines(d["cost_vs_erm"], gain_lo, gain_hi, colors=shade, lw=0.7, alpha=0.6, zorder=2)
    ax.hlines(d["gain"], d["cost_vs_erm_lo"], d["cost_vs_erm_hi"], colors=shade, lw=0.7, alpha=0.6, zorder=2)
    for reg, cx, gy, c in zip(d["regularizer"], d["cost_vs_erm"], d["gain"], shade):
        ax.scatter([cx], [gy], color=[c], marker=styles[reg].marker if reg in styles else "o", s=24, zorder=3)
    ax.step(front["cost_vs_erm"], front["gain"], where="post", color="0.25", lw=1, ls="-.")
    show = set(labelled) | set(front["regularizer"])
    ax.axhline(0, color="black", lw=0.6)
    ax.axvline(1, color="black", lw=0.6)
    theme.ratio_axis(ax)
    points = {r["regularizer"]: (r["cost_vs_erm"], r["gain"]) for r in d.to_dict("records") if r["regularizer"] in show}
    theme.label_points(ax, points, colors)
    ax.set_xlabel("train CPU time relative to erm (log scale)")
    ax.set_ylabel("OOD accuracy gain over erm (points)")
    extra = [
        (Line2D([], [], color="0.25", ls="-."), "Pareto front"),
        (Line2D([], [], color="0.4", marker="+", ls="", ms=8), "95% CI (gain: the row's OOD accuracy CI)"),
    ]
    theme.regularizer_legend(fig, theme.regularizer_kinds(lb), extra, lines=False)
    theme.question(fig, "What does each regularizer's OOD gain cost? (up and left is better)")
    return fig


# file name → (title on the page and README, the plot); the title is the question it answers
PLOTS = {
    "id_vs_ood.png": ("ID vs OOD accuracy: who is more robust than its ID accuracy predicts?", "id_vs_ood"),
    "accuracy_vs_severity.png": ("Accuracy vs corruption severity, erm as reference", "accuracy_vs_severity"),
    "ece_vs_severity.png": ("ECE vs corruption severity: does calibration hold up?", "ece_vs_severity"),
    "reliability.png": ("Reliability diagrams with bin counts", "reliability_diagrams"),
    "generalization_gap.png": ("Generalization gap: who closes the train-test gap?", "generalization_gap"),
    "cost_vs_gain.png": ("CPU cost vs OOD gain over erm", "cost_vs_gain"),
}


def figures(lb: Leaderboard, metrics: pd.DataFrame, reliability: pd.DataFrame) -> dict[str, object]:
    """file name → Figure (or None when the records have no data for it)."""
    makers = {
        "id_vs_ood": lambda: id_vs_ood(lb),
        "accuracy_vs_severity": lambda: accuracy_vs_severity(lb, metrics),
        "ece_vs_severity": lambda: ece_vs_severity(lb, metrics),
        "reliability_diagrams": lambda: reliability_diagrams(lb, reliability),
        "generalization_gap": lambda: generalization_gap(lb),
        "cost_vs_gain": lambda: cost_vs_gain(lb),
    }
    return {name: makers[maker]() for name, (_, maker) in PLOTS.items()}


def plot_all(
    lb: Leaderboard, metrics: pd.DataFrame, reliability: pd.DataFrame, out_dir: Path
) -> tuple[dict[str, Path], list[str]]:
    """Write every plot into out_dir as PNG and SVG; returns {title: PNG path} and notes for
    skipped plots."""
    made, notes = {}, []
    for name, fig in figures(lb, metrics, reliability).items():
        title = PLOTS[name][0]
        path = out_dir / name
        if fig is None:
            path.unlink(missing_ok=True)  # no stale plot from an earlier build
            theme.svg_of(path).unlink(missing_ok=True)
            notes.append(f"plot '{title}' skipped: no data for it in these records")
        else:
            made[title] = theme.save(fig, path)
    return made, notes
