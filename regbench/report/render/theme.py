"""The one look of every regbench plot: a seaborn theme, colour-blind-safe colours by regularizer
kind (seaborn's "colorblind" palette, after Okabe & Ito) with a marker and a line style per
regularizer inside its kind, legends outside the axes, direct labels for the few lines a reader
looks for (kept inside their axes, so never on a title), plain-ratio and whole-number axes.
Every plot is saved as PNG and SVG with reproducible bytes (``save``).

Figures are ``matplotlib.figure.Figure`` objects (no pyplot, no global state); the theme is
applied while a plot function runs (``@themed``), so rcParams never leak into the caller.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

DPI = 100  # pixels per inch of the PNG: keeps the embedded page small (the SVG beside it scales)
BASELINE_COLOR = "black"
# regularizers of one kind share a colour; the i-th of a kind gets MARKERS[i % 8] and
# LINESTYLES[i % 4], so neighbours differ in both and a legend tells them apart without colour
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", (0, (5, 1.5)), (0, (1, 1.2)), (0, (4, 1.2, 1, 1.2)))
LEGEND_CHARS = 40  # a legend entry longer than this is cut (the table has the full name)
MAX_LEGEND_ROWS = 30  # more regularizers than this: a legend of kinds, not of regularizers
SVG_SALT = "regbench"  # fixed ids in the SVG: the same records give the same bytes
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
    """Write ``fig`` as ``path`` (PNG) and the same name with ``.svg``; None passes through.

    Reproducible bytes: no version stamp or date in either file, and the SVG's element ids
    come from a fixed salt instead of a random one.
    """
    if fig is None:
        return None
    import matplotlib as mpl

    fig.savefig(path, format="png", metadata={"Software": None})
    with mpl.rc_context({"svg.hashsalt": SVG_SALT, "svg.fonttype": "path"}):
        fig.savefig(path.with_suffix(".svg"), format="svg", metadata={"Date": None, "Creator": None})
    return path


def svg_of(path: Path) -> Path:
    """The SVG written beside the PNG ``path`` by ``save``."""
    return Path(path).with_suffix(".svg")


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


class Style(tuple):
    """(color, marker, linestyle) of one regularizer in every plot."""

    __slots__ = ()

    def __new__(cls, color, marker: str, linestyle):
        return super().__new__(cls, (color, marker, linestyle))

    color = property(lambda self: self[0])
    marker = property(lambda self: self[1])
    linestyle = property(lambda self: self[2])


def regularizer_styles(kinds: dict[str, str]) -> dict[str, Style]:
    """regularizer → Style: the colour of its kind, and a marker and line style by its place
    among the regularizers of that kind (in the order of ``kinds``); the baseline erm is black,
    solid, round."""
    colors = regularizer_colors(kinds)
    seen: dict[str, int] = {}
    out = {}
    for reg, kind in kinds.items():
        kind = kind or "none"
        i = seen.get(kind, 0)
        seen[kind] = i + 1
        out[reg] = Style(colors[reg], MARKERS[i % len(MARKERS)], LINESTYLES[i % len(LINESTYLES)])
    return out


def leaderboard_styles(lb) -> dict[str, Style]:
    """regularizer → Style of a Leaderboard's rows (``regularizer_styles`` in ``lb.main`` order)."""
    return regularizer_styles(regularizer_kinds(lb))


def regularizer_legend(fig, kinds: dict[str, str], extra: list | None = None, lines: bool = True) -> None:
    """A legend of each regularizer's colour, marker (and line style when ``lines``), grouped by
    kind, outside the axes; beyond MAX_LEGEND_ROWS regularizers a legend of kinds instead.
    ``extra``: (handle, label) pairs appended."""
    from matplotlib.lines import Line2D

    if len(kinds) > MAX_LEGEND_ROWS:
        kind_legend(fig, kinds.values(), extra)
        return
    styles = regularizer_styles(kinds)
    rank = {k: i for i, k in enumerate(KIND_ORDER)}
    order = sorted(kinds, key=lambda r: (rank.get(kinds[r] or "none", len(rank)), kinds[r] or "", list(kinds).index(r)))
    handles, labels = [], []
    for reg in order:
        st = styles[reg]
        handles.append(Line2D([], [], color=st.color, marker=st.marker, ls=st.linestyle if lines else "", ms=4, lw=1))
        labels.append(shorten(f"{reg} ({kinds[reg] or 'none'})"))
    for handle, label in extra or []:
        handles.append(handle)
        labels.append(label)
    fig.legend(handles, labels, loc="outside right upper", fontsize=6.5, title="regularizer (kind)", title_fontsize=7)


def shorten(text: str, width: int = LEGEND_CHARS) -> str:
    """``text`` cut to ``width`` characters with '…': a long label must not squeeze the axes away."""
    return text if len(text) <= width else text[: width - 1] + "…"


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


def spread(values: list[float], gap: float, lo: float = -np.inf, hi: float = np.inf) -> list[float]:
    """Label positions as close to ``values`` as possible but at least ``gap`` apart (1-D),
    all inside [lo, hi] when they fit there (so a label never leaves its axes for the title)."""
    if not values:
        return []
    order = np.argsort(values, kind="stable")
    want = np.clip(np.asarray(values, dtype=float)[order], lo, hi)
    pos = want.copy()
    for i in range(1, len(pos)):
        pos[i] = max(pos[i], pos[i - 1] + gap)
    pos -= (pos - want).mean() / 2  # centre the block on the data
    if len(pos) and pos[-1] > hi:  # pushed past the top: stack down from it
        pos[-1] = hi
        for i in range(len(pos) - 2, -1, -1):
            pos[i] = min(pos[i], pos[i + 1] - gap)
    if len(pos) and pos[0] < lo:  # and past the bottom: stack up from it
        pos[0] = lo
        for i in range(1, len(pos)):
            pos[i] = max(pos[i], pos[i - 1] + gap)
    out = np.empty_like(pos)
    out[order] = pos
    return out.tolist()


def label_ends(ax, lines: dict[str, tuple[float, float]], colors: dict[str, tuple], fontsize: float = 7) -> None:
    """Direct labels right of each line's last point (x, y), pushed apart so they never overlap
    and kept inside the axes' y range (never on the title or below the x axis); a label moved
    away from its point gets a thin leader line to it.

    Call after everything is drawn: the spacing is a fraction of the final y range.
    """
    if not lines:
        return
    from matplotlib.transforms import ScaledTranslation

    lo, hi = ax.get_ylim()
    gap = (hi - lo) * 0.07
    names = list(lines)
    ys = spread([lines[n][1] for n in names], gap=gap, lo=lo + gap / 2, hi=hi - gap / 2)
    right = ax.transData + ScaledTranslation(5 / 72, 0, ax.figure.dpi_scale_trans)  # 5 pt right of x
    for name, y in zip(names, ys):
        x, y0 = lines[name]
        color = colors.get(name, BASELINE_COLOR)
        moved = abs(y - y0) > gap / 2
        ax.annotate(
            name,
            (x, y0),
            xytext=(x, y),
            textcoords=right,
            va="center",
            fontsize=fontsize,
            color=color,
            annotation_clip=False,
            arrowprops={"arrowstyle": "-", "color": color, "lw": 0.4, "shrinkA": 0, "shrinkB": 2} if moved else None,
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
