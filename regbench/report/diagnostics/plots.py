"""Diagnostics plots: each returns a ``matplotlib.figure.Figure`` under the leaderboard's
theme (:mod:`regbench.report.render.theme`, legends outside the axes), or None when there is
nothing to draw; the caller saves it.

- :func:`bias_variance_bars`: bias and variance per regularizer, ID and OOD side by side, with
  intervals over benchmarks; regularizers down the y axis, so it fits a page's width;
- :func:`learning_curves`: a panel per benchmark, train (dashed) and val (solid, with its 95%
  interval band) loss per regularizer, mean over seeds;
- :func:`error_vs_width`: the double-descent view — test error vs model width per
  regularizer, a panel per swept benchmark (e.g. per label-noise level).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from regbench.report.render import theme

ERM = "erm"


def _colors(names: list[str], kinds: dict[str, str] | None) -> dict[str, tuple]:
    """By kind when the kinds are known (the leaderboard's colours), else one colour-blind-safe
    hue each (beyond ten they repeat: the plots add a marker per regularizer)."""
    if kinds:
        return theme.regularizer_colors({n: kinds.get(n, "none") for n in names})
    import seaborn as sns

    return dict(zip(names, sns.color_palette("colorblind", max(len(names), 1))))


@theme.themed
def bias_variance_bars(bv: pd.DataFrame, order: list[str] | None = None):
    """Horizontal bars of bias, variance and churn per regularizer (mean over benchmarks, each
    benchmark first averaged over its splits of a family), ID and OOD panels side by side, with
    the 95% Student-t interval over benchmarks where there are two or more.

    The regularizers run down the y axis, so the figure keeps a page's width (7.5 in) however
    many rows there are and only grows in height.
    """
    from regbench.report.stats.intervals import t_interval

    if bv.empty:
        return None
    fams = [f for f in ("id", "ood") if f in set(bv["family"])]
    parts = ("bias", "variance", "churn")
    per_bench = bv[bv["family"].isin(fams)].groupby(["regularizer", "family", "benchmark"])[list(parts)].mean()
    present = set(per_bench.index.get_level_values(0))
    regs = [r for r in (order or sorted(present)) if r in present]
    fig, axes = theme.figure(7.5, 1.4 + 0.3 * len(regs), ncols=len(fams), sharey=True)
    y = np.arange(len(regs))[::-1]
    height = 0.27
    import seaborn as sns

    palette = sns.color_palette("colorblind", 3)  # the colour-blind palette of every plot; hatches too
    for ax, fam in zip(axes[0], fams):
        for j, (m, hatch) in enumerate(zip(parts, ("", "//", ".."))):
            est = []
            for r in regs:
                vals = per_bench.loc[(r, fam), m].to_numpy() if (r, fam) in per_bench.index.droplevel(2) else []
                mean, lo, hi, _ = t_interval(np.asarray(vals, dtype=float)) if len(vals) else (np.nan,) * 4
                est.append((float(mean), float(lo), float(hi)))
            mean, lo, hi = (np.array(col) for col in zip(*est))
            err = np.vstack([np.where(np.isfinite(lo), mean - lo, 0.0), np.where(np.isfinite(hi), hi - mean, 0.0)])
            ax.barh(
                y + (1 - j) * height,
                mean,
                height,
                xerr=err,
                label=m,
                hatch=hatch,
                color=palette[j],
                edgecolor="black",
                lw=0.4,
                error_kw={"elinewidth": 0.7, "capsize": 1.5, "ecolor": "0.2"},
            )
        ax.set_yticks(y, regs)
        ax.set_title(f"{'in-distribution (test_id)' if fam == 'id' else 'OOD (mean over splits)'}")
        ax.set_xlabel("0-1 loss component")
    handles, labels = axes[0][0].get_legend_handles_labels()
    from matplotlib.lines import Line2D

    handles.append(Line2D([], [], color="0.2", marker="|", ls="", ms=8))
    labels.append("95% CI over benchmarks (≥ 2)")
    fig.legend(handles, labels, loc="outside right upper", fontsize=7)
    theme.question(fig, "Is a regularizer's error bias or seed-to-seed variance? (0-1 loss, Domingos 2000)")
    return fig


def _mean_curve(curves: list[list[float]]) -> np.ndarray:
    """Mean over runs per epoch, over the runs that reached that epoch (early stopping)."""
    n = max(len(c) for c in curves)
    arr = np.full((len(curves), n), np.nan)
    for i, c in enumerate(curves):
        arr[i, : len(c)] = c
    return np.nanmean(arr, axis=0)


def _curve_band(curves: list[list[float]]) -> tuple[np.ndarray, np.ndarray]:
    """95% Student-t interval (lo, hi) of the mean over runs per epoch (NaN where < 2 runs);
    runs stopped early count only at the epochs they reached. Returns two (epochs,) arrays."""
    from regbench.report.stats.intervals import t_interval

    n = max(len(c) for c in curves)
    arr = np.full((len(curves), n), np.nan)
    for i, c in enumerate(curves):
        arr[i, : len(c)] = c
    _, lo, hi, _ = t_interval(arr.T)
    return np.maximum(lo, np.nanmin(arr, axis=0) * 0.5), hi  # log axis: no band below zero


@theme.themed
def learning_curves(runs: pd.DataFrame, max_panels: int = 30):
    """A panel per benchmark: mean train loss (dashed) and val loss (solid) per regularizer."""
    ok = runs[(runs["status"] == "ok") & runs["curves"].notna()]
    if ok.empty:
        return None
    benches = sorted(ok["benchmark"].unique())[:max_panels]
    regs = sorted(ok["regularizer"].unique())
    kinds = dict(zip(ok["regularizer"], ok["regularizer_kind"])) if "regularizer_kind" in ok else None
    colors = _colors(regs, kinds)
    styles = theme.regularizer_styles({r: (kinds or {}).get(r) or "none" for r in regs}) if kinds else {}
    marks = {
        r: (styles[r].marker if r in styles else theme.MARKERS[i % len(theme.MARKERS)]) for i, r in enumerate(regs)
    }
    ncols = min(len(benches), 3)
    nrows = math.ceil(len(benches) / ncols)
    fig, axes = theme.figure(3.6 * ncols + 2.0, 3.0 * nrows + 0.5, ncols=ncols, nrows=nrows)
    for ax in axes.flat[len(benches) :]:
        ax.set_visible(False)
    for ax, bench in zip(axes.flat, benches):
        sub = ok[ok["benchmark"] == bench]
        for reg, g in sub.groupby("regularizer"):
            cs = [json.loads(c) if isinstance(c, str) else c for c in g["curves"]]
            for key, style in (("train_loss", "--"), ("val_loss", "-")):
                ys = [c[key] for c in cs if c.get(key)]
                if ys:
                    m = _mean_curve(ys)
                    epochs = np.arange(1, len(m) + 1)
                    ax.plot(
                        epochs,
                        m,
                        style,
                        color=colors[reg],
                        marker=marks[reg],
                        markevery=max(1, len(m) // 5),
                        ms=3,
                        lw=2.0 if reg == ERM else 1.0,
                        label=reg if key == "val_loss" else None,
                    )
                    if key == "val_loss" and len(ys) > 1:
                        lo, hi = _curve_band(ys)
                        ax.fill_between(epochs, lo, hi, color=colors[reg], alpha=0.12, lw=0)
        ax.set_title(bench, fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.set_yscale("log")
        theme.plain_log_labels(ax.yaxis)
    handles, labels = {}, []
    for ax in axes.flat:  # every regularizer once, whichever panel drew it
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    labels = list(handles)
    fig.legend(
        list(handles.values()),
        labels,
        loc="outside right upper",
        fontsize=7,
        title="val (—, band: 95% CI) / train (--)",
        title_fontsize=7,
    )
    theme.question(fig, "Does a regularizer over- or underfit? Loss per epoch, mean over seeds")
    return fig


@theme.themed
def error_vs_width(wt: pd.DataFrame, arg: str = "width"):
    """Test error vs ``arg`` (log axis) per regularizer; a panel per swept base benchmark.

    Points are seed means with min–max bars; the train error (dashed) shows where each width
    starts to interpolate the training labels.
    """
    if wt.empty:
        return None
    bases = sorted(wt["base"].unique())
    regs = sorted(wt["regularizer"].unique())
    colors = _colors(regs, None)
    fig, axes = theme.figure(4.5 * len(bases) + 1.8, 3.8, ncols=len(bases))
    for ax, base in zip(axes[0], bases):
        sub = wt[wt["base"] == base]
        for reg, g in sub.groupby("regularizer"):
            s = g.groupby(arg)["test_error"].agg(["mean", "min", "max"])
            ax.errorbar(
                s.index,
                s["mean"],
                yerr=[s["mean"] - s["min"], s["max"] - s["mean"]],
                marker=theme.MARKERS[regs.index(reg) % len(theme.MARKERS)],
                ms=3,
                color=colors[reg],
                label=reg,
                capsize=2,
                lw=1.3,
            )
            tr = g.groupby(arg)["train_error"].mean()
            ax.plot(tr.index, tr.values, "--", color=colors[reg], lw=0.8, alpha=0.7)
        ax.set_xscale("log", base=2)
        noise = sub["label_noise"].iloc[0]
        ax.set_title(f"{base} (label noise {noise:.0%})", fontsize=9)
        ax.set_xlabel(f"model {arg}")
        ax.set_ylabel("test error (—) / train error (--)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right upper", fontsize=7)
    theme.question(fig, f"Does a regularizer flatten double descent? Test error vs model {arg}")
    return fig
