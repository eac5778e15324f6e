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
            {"benchmark": "b", "regularizer": r, "family": f, "bias": 0.1 + i / 50, "variance": 0.05, "churn": 0.08}
            for i, r in enumerate(regs)
            for f in ("id", "ood")
        ]
    )
    curves = json.dumps({"train_loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.6]})
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
