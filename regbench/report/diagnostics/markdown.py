"""Write the diagnostics of a suite: diagnostics.md, CSVs and plots (pure function of frames)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from regbench.report.diagnostics import Thresholds
from regbench.report.diagnostics import plots as P
from regbench.report.diagnostics.curves import DEFAULT_THRESHOLDS
from regbench.report.diagnostics.view import (
    bias_variance_table,
    curve_table,
    diagnostics_columns,
    width_table,
)
from regbench.report.render import markdown
from regbench.report.render.escape import csv_frame
from regbench.report.render.markdown import md
from regbench.report.render.theme import save

HEADERS = {
    "benchmark": "Benchmark",
    "regularizer": "Regularizer",
    "bias_id": "Bias ID",
    "variance_id": "Var ID",
    "churn_id": "Churn ID",
    "bias_ood": "Bias OOD",
    "variance_ood": "Var OOD",
    "churn_ood": "Churn OOD",
    "mia_auc": "MIA AUC",
    "temperature": "T (val)",
    "n_underfit": "Underfit",
    "n_overfit": "Overfit",
    "n_ok": "Ok",
}


@dataclass
class Diagnostics:
    """Every diagnostics frame of a suite and the files written."""

    table: pd.DataFrame  # diagnostics_columns
    bias_variance: pd.DataFrame
    curves: pd.DataFrame
    widths: pd.DataFrame
    thresholds: Thresholds
    files: dict[str, Path] = field(default_factory=dict)


def fmt(x) -> str:
    """Numbers to 3 decimals, counts as integers, missing as an en dash."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e6 and not 0 < abs(x) < 1:
        return str(int(x))
    return f"{x:.3f}" if isinstance(x, float) else str(x)


def table_rows(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Header and formatted rows of the diagnostics table (for markdown and the terminal)."""
    cols = [c for c in HEADERS if c in table]
    return [HEADERS[c] for c in cols], [[fmt(v) for v in row] for row in table[cols].itertuples(index=False)]


def _md(header: list[str], rows: list[list[str]]) -> list[str]:
    return markdown.table(header, rows)


def build_diagnostics(
    runs: pd.DataFrame,
    metrics: pd.DataFrame,
    preds: pd.DataFrame,
    suite: str,
    out_dir: str | Path,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    plots: bool = True,
) -> Diagnostics:
    """Compute every diagnostics frame and write them to ``out_dir`` (created)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    bv = bias_variance_table(runs, preds)
    ct = curve_table(runs, metrics, thresholds)
    table = diagnostics_columns(runs, metrics, bv, ct)
    wt = width_table(runs, metrics)
    d = Diagnostics(table, bv, ct, wt, thresholds)
    files = {"diagnostics.csv": table, "bias_variance.csv": bv, "diagnoses.csv": ct, "error_vs_width.csv": wt}
    for name, frame in files.items():
        if not frame.empty:
            csv_frame(frame).to_csv(out / name, index=False, float_format="%.6g")  # labels: never a formula
            d.files[name] = out / name
    if plots:
        order = list(dict.fromkeys(runs["regularizer"]))  # the suite's order
        for name, make in (
            ("bias_variance.png", lambda: P.bias_variance_bars(bv, order)),
            ("learning_curves.png", lambda: P.learning_curves(runs)),
            ("error_vs_width.png", lambda: P.error_vs_width(wt)),
        ):
            made = save(make(), out / name)
            if made is not None:
                d.files[name] = made
    write_markdown(d, suite, out / "diagnostics.md")
    d.files["diagnostics.md"] = out / "diagnostics.md"
    return d


def write_markdown(d: Diagnostics, suite: str, path: Path) -> None:
    """diagnostics.md: the table, the thresholds, definitions, and the plots."""
    lines = [f"# Diagnostics — {md(suite)}", ""]
    if d.table.empty:
        lines += ["No ok runs recorded.", ""]
    else:
        header, rows = table_rows(d.table)
        lines += _md(header, rows) + [""]
    lines += [
        (
            "**Bias / variance** (Domingos 2000, 0-1 loss, across the seeds of a cell): main prediction = mode "
            "over seeds (ties → smallest label); bias = error of the main prediction; variance = mean disagreement "
            "of each run with it; churn = mean pairwise disagreement between seeds. ID = test_id; OOD = mean over "
            "the OOD splits. Needs ≥ 2 ok runs per cell. With `data_resample: bootstrap` the variance also "
            'includes "a different training set".'
        ),
        "",
        (
            f"**Diagnosis** thresholds — {d.thresholds.describe()}. Accuracies are read at the delivered epoch "
            "(early stopping's restored epoch, else the last); train accuracy is on the labels trained on (label "
            "noise included)."
        ),
        "",
        (
            "**MIA AUC**: loss-threshold membership inference (members = a train subset the size of test_id, "
            "non-members = test_id); 0.5 = no leakage. **T (val)**: temperature fitted on validation only; "
            "`ece_ts` / `nll_ts` in the store are the test metrics after scaling."
        ),
        "",
    ]
    for name, title in (
        ("bias_variance.png", "Bias and variance per regularizer"),
        ("learning_curves.png", "Learning curves per benchmark"),
        ("error_vs_width.png", "Test error vs width (double descent)"),
    ):
        if name in d.files:
            lines += [f"## {title}", "", f"![{title}]({name})", ""]
    path.write_text("\n".join(lines))
