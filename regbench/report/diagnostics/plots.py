"""Diagnostics plots: each returns a ``matplotlib.figure.Figure`` under the leaderboard's
theme (:mod:`regbench.report.render.theme`, legends outside the axes), or None when there is
nothing to draw; the caller saves it.

- :func:`bias_variance_bars`: bias and variance per regularizer, ID and OOD side by side;
- :func:`learning_curves`: a panel per benchmark, train (dashed) and val (solid) loss per
  regularizer, mean over seeds;
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
    """By kind when the kinds are known (the leaderboard's colours), else one hue each."""
    if kinds:
        return theme.regularizer_colors({n: kinds.get(n, "none") for n in names})
    import seaborn as sns

    return dict(zip(names, sns.color_palette("husl", max(len(names), 1))))


@theme.themed
def bias_variance_bars(bv: pd.DataFrame, order: list[str] | None = None):
    """Bars of bias and variance (mean over benchmarks and splits of a family) per regularizer."""
    if bv.empty:
        return None
    fams = [f for f in ("id", "ood") if f in set(bv["family"])]
    t = bv[bv["family"].isin(fams)].groupby(["regularizer", "family"])[["bias", "variance", "churn"]].mean()
    regs = order or sorted(t.index.get_level_values(0).unique())
    regs = [r for r in regs if r in t.index.get_level_values(0)]
    fig, axes = theme.figure(max(5.0, 0.55 * len(regs) * len(fams) + 2.5), 3.8, ncols=len(fams), sharey=True)
    x = np.arange(len(regs))
    for ax, fam in zip(axes[0], fams):
        for j, (m, hatch) in enumerate((("bias", ""), ("variance", "//"), ("churn", ".."))):
            vals = [t.loc[(r, fam), m] if (r, fam) in t.index else np.nan for r in regs]
            ax.bar(x + (j - 1) * 0.27, vals, 0.27, label=m, hatch=hatch, color=f"C{j}", edgecolor="black", lw=0.4)
        ax.set_xticks(x, regs, rotation=40, ha="right")
        ax.set_title(f"{'in-distribution (test_id)' if fam == 'id' else 'OOD (mean over splits)'}")
        ax.set_ylabel("0-1 loss component")
    handles, labels = axes[0][0].get_legend_handles_labels()
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
                    ax.plot(
                        np.arange(1, len(m) + 1),
                        m,
                        style,
                        color=colors[reg],
                        lw=2.0 if reg == ERM else 1.0,
                        label=reg if key == "val_loss" else None,
                    )
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
    fig.legend(list(handles.values()), labels, loc="outside right upper", fontsize=7, title="val (—) / train (--)")
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
                marker="o",
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
