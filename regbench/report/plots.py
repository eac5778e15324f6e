"""Leaderboard plots (PNG, matplotlib Agg + seaborn styles), each skipped with a note when it
has no data.

Figures are built with ``matplotlib.figure.Figure`` directly (no pyplot), so no global
backend or figure state is touched, and seaborn styles are applied as context managers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from regbench.report.aggregate import BASELINE, Leaderboard

DPI = 100  # pixels per inch; keeps the embedded page small
EPS = 1e-4  # probit axes clip 0 % and 100 %
MAX_POINTS = 2000  # runs drawn per benchmark panel; beyond that an even subsample (drawing cost)


def _figure(w: float, h: float, ncols: int = 1, nrows: int = 1):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=DPI, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _palette(names: list[str]) -> dict[str, tuple]:
    import seaborn as sns

    return dict(zip(names, sns.color_palette("husl", len(names))))


def _save(fig, path: Path) -> Path:
    fig.savefig(path, format="png", metadata={"Software": None})
    return path


def id_vs_ood(lb: Leaderboard, path: Path) -> Path | None:
    """Per benchmark: every ok run (grey), each regularizer's mean, and the probit-linear fit."""
    from scipy.special import ndtr, ndtri

    t = lb.runs_table
    t = t[(t["status"] == "ok") & np.isfinite(t["id_accuracy"]) & np.isfinite(t["ood_accuracy"])]
    present = set(pd.unique(t["benchmark"]))
    benches = [b for b in lb.per_benchmark["benchmark"].drop_duplicates() if b in present]
    if not benches:
        return None
    ncols = min(4, len(benches))
    nrows = -(-len(benches) // ncols)
    fig, axes = _figure(3.2 * ncols + 2.2, 2.9 * nrows, ncols, nrows)
    colors = _palette(list(lb.main["regularizer"]))
    probit = lambda a: ndtri(np.clip(a, EPS, 1 - EPS))  # noqa: E731
    for ax in axes.ravel()[len(benches) :]:
        ax.set_visible(False)
    legend, fit_handle = None, None  # the first panel's regularizers, in its ranking order
    for ax, bench in zip(axes.ravel(), benches):
        g = t[t["benchmark"] == bench]
        x, y = probit(g["id_accuracy"].to_numpy()), probit(g["ood_accuracy"].to_numpy())
        step = max(1, -(-len(x) // MAX_POINTS))
        ax.plot(x[::step], y[::step], ls="", marker=".", ms=2, color="0.7", rasterized=True)
        cells = lb.per_benchmark[lb.per_benchmark["benchmark"] == bench]
        cells = cells[np.isfinite(cells["id_accuracy"]) & np.isfinite(cells["ood_accuracy"])]
        # one collection per panel, not one per regularizer: 25 regularizers x 20 panels of
        # scatter calls cost ~5 s of drawing at 100k runs; the legend gets proxy markers
        ax.scatter(
            probit(cells["id_accuracy"].to_numpy()),
            probit(cells["ood_accuracy"].to_numpy()),
            s=30,
            c=[colors[r] for r in cells["regularizer"]],
            edgecolors="black",
            linewidths=0.4,
            zorder=3,
        )
        if legend is None:
            legend = [(_marker(colors[r]), r) for r in cells["regularizer"]]
        fit = lb.fits.get(bench)
        if fit:
            xs = np.linspace(x.min(), x.max(), 20)
            (line,) = ax.plot(xs, fit["intercept"] + fit["slope"] * xs, color="black", lw=1)
            fit_handle = fit_handle or line
        for axis, vals in ((ax.xaxis, x), (ax.yaxis, y)):
            ticks = np.linspace(vals.min(), vals.max(), 4) if np.ptp(vals) > 0 else vals[:1]
            axis.set_ticks(ticks, labels=[f"{100 * v:.1f}" for v in ndtr(ticks)])
        ax.set_title(bench, fontsize=9)
        ax.set_xlabel("ID accuracy (%, probit scale)", fontsize=8)
        ax.set_ylabel("OOD accuracy (%, probit scale)", fontsize=8)
        ax.tick_params(labelsize=7)
    handles = [h for h, _ in legend or []] + ([fit_handle] if fit_handle else [])
    labels = [label for _, label in legend or []] + (["probit fit (all runs)"] if fit_handle else [])
    fig.legend(
        handles, labels, loc="outside right upper", fontsize=7, title="effective robustness = distance above line"
    )
    return _save(fig, path)


def _marker(color):
    from matplotlib.lines import Line2D

    return Line2D([], [], ls="", marker="o", ms=5.5, color=color, markeredgecolor="black", markeredgewidth=0.4)


def ece_vs_severity(lb: Leaderboard, metrics: pd.DataFrame, path: Path) -> Path | None:
    """Mean ECE over covariate OOD splits at each corruption severity, one line per regularizer."""
    t = lb.runs_table
    ok_reg = t[t["status"] == "ok"].set_index("run_key")["regularizer"]
    m = metrics[(metrics["metric"] == "ece") & (metrics["family"] == "covariate") & metrics["severity"].notna()]
    m = m[m["run_key"].isin(ok_reg.index)]
    if m.empty:
        return None
    m = m.assign(regularizer=m["run_key"].map(ok_reg)).sort_values(["run_key", "split"], kind="stable")
    curve = m.groupby(["regularizer", "severity"], sort=True)["value"].mean()
    fig, axes = _figure(7.5, 4.2)
    ax = axes[0, 0]
    colors = _palette(list(lb.main["regularizer"]))
    for reg in lb.main["regularizer"]:
        if reg in curve.index.get_level_values(0):
            c = curve.loc[reg]
            ax.plot(
                c.index,
                100 * c.to_numpy(),
                marker="o",
                ms=3,
                color=colors[reg],
                label=reg,
                lw=2.2 if reg == BASELINE else 1.0,
            )
    ax.set_xlabel("corruption severity")
    ax.set_ylabel("ECE (%), mean over covariate shifts and seeds")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _save(fig, path)


def _best_other(lb: Leaderboard) -> str | None:
    others = [r for r in lb.main["regularizer"] if r != BASELINE]
    return others[0] if others else None


def reliability_diagrams(lb: Leaderboard, reliability: pd.DataFrame, path: Path) -> Path | None:
    """Reliability diagrams on test_id and the pooled OOD splits for erm and the best other."""
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
    fig, axes = _figure(9, 4, ncols=2)
    colors = {BASELINE: "tab:gray"} | {r: "tab:blue" for r in regs if r != BASELINE}
    for ax, where in zip(axes[0], ("ID (test_id)", "OOD (all)")):
        ax.plot([0, 1], [0, 1], ls="--", color="black", lw=0.8, label="perfect calibration")
        for reg in regs:
            if (where, reg) in agg.index.droplevel(2):
                a = agg.loc[(where, reg)]
                ax.plot(a["wc"] / a["count"], a["wa"] / a["count"], marker="o", ms=3, color=colors[reg], label=reg)
        ax.set_title(where)
        ax.set_xlabel("confidence")
        ax.set_ylabel("accuracy")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=8, loc="upper left")
    return _save(fig, path)


def _interval_plot(lb: Leaderboard, key: str, xlabel: str, path: Path) -> Path | None:
    d = lb.main[np.isfinite(lb.main[key])]
    if d.empty:
        return None
    fig, axes = _figure(7, 0.9 + 0.28 * len(d))
    ax = axes[0, 0]
    y = np.arange(len(d))[::-1]
    mean, lo, hi = (100 * d[k].to_numpy() for k in (key, key + "_lo", key + "_hi"))
    err = np.vstack([mean - np.where(np.isfinite(lo), lo, mean), np.where(np.isfinite(hi), hi, mean) - mean])
    ax.errorbar(mean, y, xerr=err, fmt="o", color="tab:blue", ecolor="0.4", capsize=2)
    ax.set_yticks(y, labels=list(d["regularizer"]))
    ax.set_xlabel(xlabel)
    return _save(fig, path)


def generalization_gap(lb: Leaderboard, path: Path) -> Path | None:
    """Train - test_id accuracy per regularizer with its interval (leaderboard order)."""
    return _interval_plot(lb, "gen_gap", "generalization gap (points), mean over benchmarks, 95% CI", path)


def cost_vs_gain(lb: Leaderboard, path: Path) -> Path | None:
    """Train cost relative to erm against OOD accuracy gain over erm; the Pareto front joined."""
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
    fig, axes = _figure(7, 4.5)
    ax = axes[0, 0]
    ax.scatter(d["cost_vs_erm"], d["gain"], color="tab:blue", s=20, zorder=3)
    ax.step(front["cost_vs_erm"], front["gain"], where="post", color="tab:red", lw=1, label="Pareto front")
    for rec in d.to_dict("records"):
        ax.annotate(
            rec["regularizer"], (rec["cost_vs_erm"], rec["gain"]), fontsize=7, xytext=(3, 3), textcoords="offset points"
        )
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xscale("log")
    ax.set_xlabel("train time relative to erm (log scale)")
    ax.set_ylabel("OOD accuracy gain over erm (points)")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_all(
    lb: Leaderboard, metrics: pd.DataFrame, reliability: pd.DataFrame, out_dir: Path
) -> tuple[dict[str, Path], list[str]]:
    """Write every plot into out_dir; returns {title: path} and notes for skipped plots."""
    import seaborn as sns

    makers = {
        "ID vs OOD accuracy (effective robustness)": (lambda p: id_vs_ood(lb, p), "id_vs_ood.png"),
        "ECE vs corruption severity": (lambda p: ece_vs_severity(lb, metrics, p), "ece_vs_severity.png"),
        "Reliability diagrams": (lambda p: reliability_diagrams(lb, reliability, p), "reliability.png"),
        "Generalization gap": (lambda p: generalization_gap(lb, p), "generalization_gap.png"),
        "Train cost vs OOD gain": (lambda p: cost_vs_gain(lb, p), "cost_vs_gain.png"),
    }
    made, notes = {}, []
    with sns.axes_style("whitegrid"):
        for title, (make, name) in makers.items():
            path = out_dir / name
            if make(path) is None:
                path.unlink(missing_ok=True)  # no stale plot from an earlier build
                notes.append(f"plot '{title}' skipped: no data for it in these records")
            else:
                made[title] = path
    return made, notes
