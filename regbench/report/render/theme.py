"""The one look of every regbench plot: a seaborn theme, colours by regularizer kind, legends
outside the axes, direct labels for the few lines a reader looks for, plain-ratio and
whole-number axes.

Figures are ``matplotlib.figure.Figure`` objects (no pyplot, no global state); the theme is
applied while a plot function runs (``@themed``), so rcParams never leak into the caller.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

DPI = 100  # pixels per inch; keeps the embedded page small
BASELINE_COLOR = "black"
DIRECT_LABELS = 3  # leaderboard regularizers labelled directly besides the baseline
# kinds in a fixed order so that a kind keeps its colour across suites and plots
KIND_ORDER = (
    "none",
    "baseline",  # erm's row (harness/applicability.row_kinds): black, like "none"
    "penalty",
    "optimizer",
    "augmentation",
    "loss",
    "architecture",
    "stopping",
    "gradient",
    "recipe",
    "stack",
)


def themed(plot):
    """Run ``plot`` under the seaborn whitegrid theme at paper scale (one theme for all plots)."""

    @functools.wraps(plot)
    def wrapper(*args, **kwargs):
        import matplotlib as mpl
        import seaborn as sns

        rc = {**sns.axes_style("whitegrid"), **sns.plotting_context("paper", font_scale=1.0)}
        rc |= {"legend.frameon": False, "axes.titlesize": 9, "figure.titlesize": 10}
        with mpl.rc_context(rc):
            return plot(*args, **kwargs)

    return wrapper


def figure(w: float, h: float, ncols: int = 1, nrows: int = 1, **grid):
    """A constrained-layout Figure and its (nrows, ncols) axes array."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=DPI, layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False, **grid)


def save(fig, path: Path) -> Path | None:
    """Write ``fig`` as PNG (no version stamp: reproducible bytes); None passes through."""
    if fig is None:
        return None
    fig.savefig(path, format="png", metadata={"Software": None})
    return path


def kind_colors(kinds) -> dict[str, tuple]:
    """kind → colour from seaborn's colour-blind palette; 'none' (erm) is black."""
    import seaborn as sns

    known = [k for k in KIND_ORDER if k not in ("none", "baseline")]
    extra = sorted(set(kinds) - set(KIND_ORDER))
    palette = sns.color_palette("colorblind", len(known) + len(extra))
    colors = dict(zip(known + extra, palette))
    colors["none"] = colors["baseline"] = BASELINE_COLOR
    return colors


def regularizer_colors(kinds: dict[str, str]) -> dict[str, tuple]:
    """regularizer → the colour of its kind (the baseline erm is black)."""
    by_kind = kind_colors(kinds.values())
    return {reg: by_kind.get(kind or "none", BASELINE_COLOR) for reg, kind in kinds.items()}


def highlighted(ranked: list[str], baseline: str, top: int = 3) -> list[str]:
    """The regularizers worth a direct label: the ``top`` best ranked and the baseline."""
    out = [r for r in ranked if r != baseline][:top]
    return out + [baseline] if baseline in ranked else out


def regularizer_kinds(lb) -> dict[str, str]:
    """regularizer → its kind ("none" where it has none), in the order of ``lb.main`` (a Leaderboard)."""
    return {r: (k or "none") for r, k in zip(lb.main["regularizer"], lb.main["kind"])}


def leaderboard_style(lb, baseline: str) -> tuple[dict[str, tuple], list[str]]:
    """(colour per regularizer, the ranked names worth a direct label) of a Leaderboard's rows."""
    ranked = list(lb.main["regularizer"])
    return regularizer_colors(regularizer_kinds(lb)), highlighted(ranked, baseline, DIRECT_LABELS)


def kind_legend(fig, kinds, extra: list | None = None, title: str = "kind") -> None:
    """A legend of the kinds present (plus ``extra`` (handle, label) pairs), outside the axes."""
    from matplotlib.lines import Line2D

    colors = kind_colors(kinds)
    present = [k for k in KIND_ORDER if k in set(kinds)] + sorted(set(kinds) - set(KIND_ORDER))
    handles = [Line2D([], [], color=colors[k], marker="o", ls="", ms=5) for k in present]
    labels = ["none (erm)" if k == "none" else k for k in present]
    for handle, label in extra or []:
        handles.append(handle)
        labels.append(label)
    fig.legend(handles, labels, loc="outside right upper", fontsize=7, title=title, title_fontsize=7)


def spread(values: list[float], gap: float) -> list[float]:
    """Label positions as close to ``values`` as possible but at least ``gap`` apart (1-D)."""
    if not values:
        return []
    order = np.argsort(values, kind="stable")
    pos = np.asarray(values, dtype=float)[order]
    for i in range(1, len(pos)):
        pos[i] = max(pos[i], pos[i - 1] + gap)
    shift = (pos - np.asarray(values, dtype=float)[order]).mean()  # centre the block on the data
    pos -= shift / 2
    out = np.empty_like(pos)
    out[order] = pos
    return out.tolist()


def label_ends(ax, lines: dict[str, tuple[float, float]], colors: dict[str, tuple], fontsize: float = 7) -> None:
    """Direct labels right of each line's last point (x, y), pushed apart so they never overlap.

    Call after everything is drawn: the spacing is a fraction of the final y range.
    """
    if not lines:
        return
    lo, hi = ax.get_ylim()
    names = list(lines)
    ys = spread([lines[n][1] for n in names], gap=(hi - lo) * 0.07)
    for name, y in zip(names, ys):
        ax.annotate(
            name,
            (lines[name][0], y),
            xytext=(5, 0),
            textcoords="offset points",
            va="center",
            fontsize=fontsize,
            color=colors.get(name, BASELINE_COLOR),
            annotation_clip=False,
        )


def whole_number_ticks(axis, values) -> None:
    """Ticks only at the whole numbers that occur (severities 1..5 have no 1.5)."""
    vals = sorted({float(v) for v in values if np.isfinite(v)})
    if vals and all(v.is_integer() for v in vals):
        axis.set_ticks(vals, labels=[str(int(v)) for v in vals])
    else:
        from matplotlib.ticker import MaxNLocator

        axis.set_major_locator(MaxNLocator(integer=True))


NICE_RATIOS = (0.1, 0.2, 0.25, 0.5, 0.75, 0.9, 1, 1.1, 1.25, 1.5, 2, 3, 4, 5, 10, 20, 50, 100)


def ratio_axis(ax) -> None:
    """Log-scaled x axis of ratios labelled '0.75×', '1×', '1.5×', never powers of ten.

    Call after the data are drawn: the ticks are the round ratios inside the final limits.
    """
    from matplotlib.ticker import NullFormatter, NullLocator

    ax.set_xscale("log")
    lo, hi = ax.get_xlim()
    ticks = [v for v in NICE_RATIOS if lo <= v <= hi] or [1]
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(ticks, labels=[f"{v:g}×" for v in ticks])
    ax.set_xlim(lo, hi)


def question(fig, text: str) -> None:
    """The figure's title — the question it answers — wrapped to the figure's width."""
    import textwrap

    # left-aligned and no wider than the axes, so it never runs into the legend on the right
    chars = max(30, int((fig.get_figwidth() - 1.8) * 14))  # ~7 px per character at 10 pt, 100 dpi
    fig.suptitle(textwrap.fill(text, chars), x=0.01, ha="left")


def label_points(ax, points: dict[str, tuple[float, float]], colors: dict[str, tuple], fontsize: float = 7) -> None:
    """Direct labels beside scatter points (x, y), pushed apart vertically so they never overlap."""
    label_ends(ax, points, colors, fontsize)


def plain_log_labels(axis) -> None:
    """A log axis labelled 0.3, 1, 2 (plain numbers), not 3 × 10⁻¹."""
    from matplotlib.ticker import FuncFormatter

    def minor(v, _):  # label only the 2s and 5s between decades: readable, not crowded
        return f"{v:g}" if f"{v:.0e}"[0] in "25" else ""

    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(FuncFormatter(minor))
