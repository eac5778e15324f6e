"""Every plot of a small store renders, states its question, and keeps its legends off the data."""

import json

import numpy as np
import pandas as pd
import pytest
from report_fixtures import make_frames

from regbench.report.diagnostics import plots as diag_plots
from regbench.report.render.plots import PLOTS, figures
from regbench.report.table.aggregate import aggregate


@pytest.fixture(scope="module")
def frames():
    runs, metrics, rel, suite = make_frames(n_benchmarks=4, seeds=3)
    # a second corruption with whole-number severities, as real covariate suites have
    cov = metrics[metrics["family"] == "covariate"].copy()
    cov["shift"], cov["split"] = "blur", cov["split"].str.replace("gaussian_noise", "blur")
    metrics = pd.concat([metrics, cov], ignore_index=True)
    return runs, metrics, rel, suite, aggregate(runs, metrics, suite, reps=50)


def _diagnostic_figures(runs):
    regs = sorted(runs["regularizer"].unique())
    bv = pd.DataFrame(
        [
            {
                "benchmark": b,
                "regularizer": r,
                "family": f,
                "bias": 0.1 + i / 50 + k / 100,
                "variance": 0.05,
                "churn": 0.08,
            }
            for i, r in enumerate(regs)
            for f in ("id", "ood")
            for k, b in enumerate(("b", "c"))
        ]
    )
    # seeds differ a little, so the mean curve has an interval
    curves = [
        json.dumps({"train_loss": [1.0, 0.5, 0.3], "val_loss": [1.1 + d, 0.7 + d, 0.6 + d]})
        for d in np.arange(len(runs)) % 3 / 50
    ]
    with_curves = runs.assign(curves=curves)
    wt = pd.DataFrame(
        [
            {
                "base": "noise",
                "regularizer": r,
                "width": w,
                "seed": s,
                "label_noise": 0.2,
                "test_error": 0.3 / w + s / 100,
                "train_error": 0.1 / w,
            }  # fmt: skip
            for r in regs[:3]
            for w in (1, 4, 16)
            for s in (0, 1)
        ]
    )
    return {
        "bias_variance.png": diag_plots.bias_variance_bars(bv, regs),
        "learning_curves.png": diag_plots.learning_curves(with_curves),
        "error_vs_width.png": diag_plots.error_vs_width(wt),
    }


def _all_figures(frames):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    runs, metrics, rel, _, lb = frames
    figs = {**figures(lb, metrics, rel), **_diagnostic_figures(runs)}
    for fig in figs.values():
        if fig is not None:
            FigureCanvasAgg(fig)  # what savefig uses: an Agg renderer to measure with
    return figs


def _overlap(a, b) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(w, 0) * max(h, 0)


def test_every_plot_renders_with_its_question_and_legend_outside_the_axes(frames):
    figs = _all_figures(frames)
    assert set(PLOTS) <= set(figs) and all(f is not None for f in figs.values()), figs
    for name, fig in figs.items():
        fig.canvas.draw()  # Agg: lays out the constrained layout and the legends
        assert "?" in fig.get_suptitle(), name  # the question the plot answers
        legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
        assert legends, f"{name} has no legend"
        renderer = fig.canvas.get_renderer()
        for legend in legends:
            box = legend.get_window_extent(renderer)
            for ax in fig.axes:
                if ax.get_visible():
                    assert _overlap(box, ax.get_window_extent(renderer)) == 0, f"{name}: legend over {ax.get_title()}"
            # and inside the image
            assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= fig.bbox.width + 1 and box.y1 <= fig.bbox.height + 1, name


def test_severity_ticks_are_whole_numbers_and_erm_is_the_reference(frames):
    figs = _all_figures(frames)
    for name in ("accuracy_vs_severity.png", "ece_vs_severity.png"):
        fig = figs[name]
        fig.canvas.draw()
        for ax in [a for a in fig.axes if a.get_visible()]:
            ticks = ax.get_xticks()
            assert list(ticks) == [1.0, 5.0], (name, ticks)  # the severities recorded, nothing between
            labels = [t.get_text() for t in ax.texts]
            assert "erm" in labels  # a direct label, not a legend lookup
    acc = figs["accuracy_vs_severity.png"]
    assert sorted(ax.get_title() for ax in acc.axes if ax.get_visible()) == ["blur", "gaussian_noise"]


def test_reliability_has_bin_count_histograms(frames):
    fig = _all_figures(frames)["reliability.png"]
    hist_axes = [ax for ax in fig.axes if ax.get_ylabel() == "predictions"]
    assert len(hist_axes) == 2
    _, _, rel, _, lb = frames
    heights = sum(p.get_height() for ax in hist_axes for p in ax.patches)
    best_other = next(r for r in lb.main["regularizer"] if r != "erm")
    t = lb.runs_table
    ok = t[(t["status"] == "ok") & t["regularizer"].isin(["erm", best_other])]
    assert heights == pytest.approx(rel[rel["run_key"].isin(ok["run_key"])]["count"].sum())


def test_cost_axis_reads_as_plain_ratios(frames):
    fig = _all_figures(frames)["cost_vs_gain.png"]
    fig.canvas.draw()
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels and all(lab.endswith("×") and float(lab[:-1]) > 0 for lab in labels)  # '1×', '2×', not 10^0
    assert "CPU" in ax.get_xlabel()


def test_colours_follow_the_kind(frames):
    from regbench.report.render.theme import regularizer_colors

    colors = regularizer_colors({"erm": "none", "mixup": "augmentation", "cutmix": "augmentation", "l2": "penalty"})
    assert colors["mixup"] == colors["cutmix"] != colors["l2"]
    assert colors["erm"] == "black"
    assert np.isfinite(frames[4].main["cost_vs_erm"]).all()


# which plots compare regularizers and so must draw each estimate's interval
COMPARING = (
    "id_vs_ood.png",
    "accuracy_vs_severity.png",
    "ece_vs_severity.png",
    "reliability.png",
    "generalization_gap.png",
    "cost_vs_gain.png",
    "bias_variance.png",
    "learning_curves.png",
    "error_vs_width.png",
)


def test_every_plot_that_compares_regularizers_draws_intervals(frames):
    from matplotlib.collections import LineCollection, PolyCollection

    figs = _all_figures(frames)
    for name in COMPARING:
        collections = [c for ax in figs[name].axes for c in ax.collections]
        # error bars and hlines/vlines are LineCollections; a band is a PolyCollection
        segments = [c for c in collections if isinstance(c, LineCollection) and len(c.get_segments())]
        bands = [c for c in collections if isinstance(c, PolyCollection)]
        assert segments or bands, f"{name} draws no interval"
        spans = [np.ptp(np.asarray(s)[:, 1]) + np.ptp(np.asarray(s)[:, 0]) for c in segments for s in c.get_segments()]
        assert bands or max(spans) > 0, f"{name}: every interval has zero width"


def test_direct_labels_stay_inside_their_axes_and_off_titles_and_each_other(frames):
    from matplotlib.text import Text

    figs = _all_figures(frames)
    for name, fig in figs.items():
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        title = fig._suptitle.get_window_extent(renderer)
        for ax in [a for a in fig.axes if a.get_visible()]:
            # the text's own box (an Annotation's extent would include its leader line)
            boxes = [Text.get_window_extent(t, renderer) for t in ax.texts]
            frame = ax.get_window_extent(renderer)
            head = ax.title.get_window_extent(renderer) if ax.get_title() else None
            for i, box in enumerate(boxes):
                assert frame.y0 - 1 <= box.y0 and box.y1 <= frame.y1 + 1, (
                    f"{name}: {ax.texts[i].get_text()} leaves its axes"
                )
                assert _overlap(box, title) == 0, f"{name}: a label on the figure title"
                assert head is None or _overlap(box, head) == 0, f"{name}: a label on the panel title"
                for other in boxes[i + 1 :]:
                    assert _overlap(box, other) < 1, f"{name}: labels overlap"


def test_label_spread_stays_in_bounds_and_apart():
    from regbench.report.render.theme import spread

    ys = spread([9.9, 10.0, 10.0, 1.0], gap=1.0, lo=0.5, hi=9.5)
    assert max(ys) <= 9.5 and min(ys) >= 0.5
    ordered = sorted(ys)
    assert all(b - a >= 1.0 - 1e-9 for a, b in zip(ordered, ordered[1:]))


def test_every_regularizer_has_its_own_colour_marker_and_line_style():
    from regbench.report.render.theme import regularizer_styles

    kinds = {"erm": "baseline", **{f"aug{i}": "augmentation" for i in range(6)}, "l2": "penalty", "l1": "penalty"}
    styles = regularizer_styles(kinds)
    assert len(set(styles.values())) == len(kinds)  # no two regularizers drawn alike
    augs = [styles[f"aug{i}"] for i in range(6)]
    assert len({s.color for s in augs}) == 1  # colour = kind
    assert len({s.marker for s in augs}) == 6  # told apart without colour
    assert augs[0].linestyle != augs[1].linestyle
    assert styles["erm"].color == "black"


def test_severity_and_scatter_legends_name_each_regularizer(frames):
    figs = _all_figures(frames)
    regs = set(frames[4].main["regularizer"])
    for name in ("accuracy_vs_severity.png", "ece_vs_severity.png", "id_vs_ood.png", "cost_vs_gain.png"):
        texts = {t.get_text().split(" (")[0] for lg in figs[name].legends for t in lg.get_texts()}
        assert regs <= texts, (name, regs - texts)


def test_reliability_points_stand_for_at_least_ten_predictions(frames):
    from regbench.report.render.shift_plots import MIN_BIN_COUNT, merged_bins

    counts = np.array([3, 12, 1, 40, 2, 4])
    groups = merged_bins(counts)
    sums = np.bincount(groups, weights=counts)
    assert (sums >= MIN_BIN_COUNT).all() and list(groups) == sorted(groups)
    assert list(merged_bins(np.array([2, 3]))) == [0, 0]  # too few in all: one point
    from regbench.report.render.shift_plots import reliability_diagrams

    _, _, rel, _, lb = frames
    one_seed = rel[rel["run_key"].str.endswith("|0") & rel["run_key"].str.startswith("bench00")]
    assert (one_seed["count"] < MIN_BIN_COUNT).any()  # sparse bins, as one small run has
    fig = reliability_diagrams(lb, one_seed)
    curve_axes = [ax for ax in fig.axes if ax.get_ylabel() == "accuracy"]
    points = [
        len(line.get_xdata()) for ax in curve_axes for line in ax.lines if line.get_marker() not in (None, "None")
    ]
    for _, g in one_seed.groupby(["run_key", "split"]):
        assert points and max(points) < (g["count"] > 0).sum()  # its sparse bins were merged


def test_bias_variance_fits_a_page_width_for_many_regularizers():
    regs = [f"reg{i:02d}" for i in range(21)]
    bv = pd.DataFrame(
        [
            {"benchmark": b, "regularizer": r, "family": f, "bias": 0.1, "variance": 0.05, "churn": 0.08}
            for r in regs
            for f in ("id", "ood")
            for b in ("a", "b")
        ]
    )
    fig = diag_plots.bias_variance_bars(bv, regs)
    assert fig.get_figwidth() <= 7.5
    assert sorted(t.get_text() for t in fig.axes[0].get_yticklabels()) == regs  # names on the y axis, readable


def test_same_figure_gives_the_same_png_and_svg_bytes(frames, tmp_path):
    from regbench.report.render import theme
    from regbench.report.render.plots import figures as make

    runs, metrics, rel, _, lb = frames
    outs = []
    for k in range(2):
        out = tmp_path / str(k)
        out.mkdir()
        theme.save(make(lb, metrics, rel)["cost_vs_gain.png"], out / "cost_vs_gain.png")
        outs.append(out)
    for suffix in (".png", ".svg"):
        a, b = ((o / "cost_vs_gain").with_suffix(suffix).read_bytes() for o in outs)
        assert a == b and len(a) > 1000, suffix
    svg = (outs[0] / "cost_vs_gain.svg").read_text()
    assert "<dc:date>" not in svg and "Matplotlib v" not in svg
