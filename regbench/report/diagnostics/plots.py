"""Diagnostics plots (PNG, matplotlib ``Figure`` without pyplot, seaborn palette), each
returning None when there is nothing to draw.

- :func:`bias_variance_bars`: bias and variance per regularizer, ID and OOD side by side;
- :func:`learning_curves`: a panel per benchmark, train (dashed) and val (solid) loss per
  regularizer, mean over seeds;
- :func:`error_vs_width`: the double-descent view — test error vs model width per
  regularizer, a panel per swept benchmark (e.g. per label-noise level).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

DPI = 100


def _figure(w: float, h: float, ncols: int = 1, nrows: int = 1):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=DPI, layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def _palette(names: list[str]) -> dict[str, tuple]:
    import seaborn as sns

    return dict(zip(names, sns.color_palette("husl", max(len(names), 1))))


def _save(fig, path: Path) -> Path:
    fig.savefig(path, format="png", metadata={"Software": None})  # no version stamp: reproducible bytes
    return path


def bias_variance_bars(bv: pd.DataFrame, path: Path, order: list[str] | None = None) -> Path | None:
    """Bars of bias and variance (mean over benchmarks and splits of a family) per regularizer."""
    if bv.empty:
        return None
    fams = [f for f in ("id", "ood") if f in set(bv["family"])]
    t = bv[bv["family"].isin(fams)].groupby(["regularizer", "family"])[["bias", "variance", "churn"]].mean()
    regs = order or sorted(t.index.get_level_values(0).unique())
    regs = [r for r in regs if r in t.index.get_level_values(0)]
    fig, axes = _figure(max(5.0, 1.1 * len(regs) + 2), 3.6, ncols=len(fams))
    x = np.arange(len(regs))
    for ax, fam in zip(axes[0], fams):
        for j, (m, hatch) in enumerate((("bias", ""), ("variance", "//"), ("churn", ".."))):
            vals = [t.loc[(r, fam), m] if (r, fam) in t.index else np.nan for r in regs]
            ax.bar(x + (j - 1) * 0.27, vals, 0.27, label=m, hatch=hatch, color=f"C{j}", edgecolor="black", lw=0.4)
        ax.set_xticks(x, regs, rotation=30, ha="right")
        ax.set_title(f"{'in-distribution (test_id)' if fam == 'id' else 'OOD (mean over splits)'}")
        ax.set_ylabel("0-1 loss component")
        ax.legend(fontsize=8)
    fig.suptitle("Bias–variance decomposition of 0-1 loss across seeds (Domingos 2000)")
    return _save(fig, path)


def _mean_curve(curves: list[list[float]]) -> np.ndarray:
    """Mean over runs per epoch, over the runs that reached that epoch (early stopping)."""
    n = max(len(c) for c in curves)
    arr = np.full((len(curves), n), np.nan)
    for i, c in enumerate(curves):
        arr[i, : len(c)] = c
    return np.nanmean(arr, axis=0)


def learning_curves(runs: pd.DataFrame, path: Path, max_panels: int = 30) -> Path | None:
    """A panel per benchmark: mean train loss (dashed) and val loss (solid) per regularizer."""
    ok = runs[(runs["status"] == "ok") & runs["curves"].notna()]
    if ok.empty:
        return None
    benches = sorted(ok["benchmark"].unique())[:max_panels]
    regs = sorted(ok["regularizer"].unique())
    colors = _palette(regs)
    ncols = min(len(benches), 4)
    nrows = math.ceil(len(benches) / ncols)
    fig, axes = _figure(4.0 * ncols, 3.0 * nrows, ncols=ncols, nrows=nrows)
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
                        lw=1.2,
                        label=reg if key == "val_loss" else None,
                    )
        ax.set_title(bench, fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.set_yscale("log")
    axes.flat[0].legend(fontsize=7, title="val (—) / train (--)", title_fontsize=7)
    fig.suptitle("Learning curves (mean over seeds)")
    return _save(fig, path)


def error_vs_width(wt: pd.DataFrame, path: Path, arg: str = "width") -> Path | None:
    """Test error vs ``arg`` (log axis) per regularizer; a panel per swept base benchmark.

    Points are seed means with min–max bars; the train error (dashed) shows where each width
    starts to interpolate the training labels.
    """
    if wt.empty:
        return None
    bases = sorted(wt["base"].unique())
    regs = sorted(wt["regularizer"].unique())
    colors = _palette(regs)
    fig, axes = _figure(5.0 * len(bases), 3.8, ncols=len(bases))
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
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"Test error vs model {arg} — double descent and how regularizers flatten it")
    return _save(fig, path)
