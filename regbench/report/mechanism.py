"""Does a regularizer act? Its mechanism number against erm's, per benchmark (no torch).

A regularizer can be configured so weakly, or trained so briefly, that it never changes the
model: then the leaderboard ranks a no-op against erm by noise. Each standard regularizer
kind has one number that shows its mechanism at work (docs/metrics.md, "Mechanism numbers"):

- penalty (l1, l2, elastic_net) and optimizer (weight_decay): ``weight_norm``, the L2 norm of
  the ≥ 2-D weights they act on, relative to erm's;
- stopping (early_stopping): the share of seeds whose restored epoch is earlier than the
  last epoch run (``restored_epoch`` < ``epochs_run``);
- gradient (grad_clip): ``clipped_fraction``, the share of steps whose gradient was clipped;
- sharpness (sam, asam): ``hessian_max_eigenvalue``, the top eigenvalue of the training loss's
  Hessian on a fixed training subset, measured after training for erm's and their runs
  (regbench/evaluate/curvature.py), relative to erm's (no verdict for records made before it
  was measured). Not the loss rise at a fixed radius (``sharpness_at_0.05``, every run records
  it): its first-order term ρ‖g‖ calls a run that fits its noisy labels less tightly than erm
  "sharper" whatever its curvature;
- averaging (ema, swa, swad): ``averaged_distance``, ‖θ_avg − θ_final‖ / ‖θ_final‖, inactive
  under ``MIN_AVERAGED_DISTANCE`` (the average is the final model);
- augmentation, loss (label smoothing) and dropout: ``train_loss``, the clean training NLL of
  the final weights, relative to erm's (they exist to keep the model from fitting the
  training set the way erm does).

A cell is ``inactive`` when that number shows no effect: a relative change under
``RELATIVE_EFFECT`` in the mechanism's direction (``Mechanism.direction``: weights shrink,
the top Hessian eigenvalue falls, train NLL rises) for the relative groups, fewer than half the seeds restoring an
earlier epoch, fewer than ``MIN_CLIPPED`` of the steps clipped. Norm layers and recipes
change the architecture or bundle several mechanisms and get no verdict ("n/a").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from regbench.report.render.escape import md

RELATIVE_EFFECT = 0.05  # |value / erm's - 1| below this is no effect
MIN_CLIPPED = 0.05  # a clipper that clips fewer steps than this does not act
MIN_AVERAGED_DISTANCE = 0.01  # an average within 1% of the final weights is the final model
MIN_RESTORED = 0.5  # early stopping acts if at least this share of seeds restores an earlier epoch
BASELINE = "erm"


@dataclass(frozen=True)
class Mechanism:
    """What shows a regularizer kind at work: the run-level metric and how it is judged."""

    metric: str
    label: str
    rule: str  # "relative" to erm's mean | "share" of seeds restoring early | "fraction" of steps | "distance"
    # the way the number moves when the mechanism acts: −1 down (weights shrink, an earlier epoch
    # is delivered, the minimum is flatter), +1 up (train NLL, steps clipped, the averaged model
    # moves away from the final one); the one-SE tie-break ranks changes in this direction
    direction: int = 1


MECHANISMS = {
    "penalty": Mechanism("weight_norm", "weight L2 norm", "relative", -1),
    "optimizer": Mechanism("weight_norm", "weight L2 norm", "relative", -1),
    "stopping": Mechanism("restored_epoch", "seeds restoring an earlier epoch", "share", -1),
    "gradient": Mechanism("clipped_fraction", "steps clipped", "fraction"),
    # not SAM's own ``sharpness`` (the mean over its training steps at its own ρ): erm has none;
    # nor the loss rise at ρ = 0.05, whose first-order term measures the fit, not the curvature
    "sharpness": Mechanism("hessian_max_eigenvalue", "top Hessian eigenvalue", "relative", -1),
    "averaging": Mechanism("averaged_distance", "averaged − final weights", "distance"),
    "augmentation": Mechanism("train_loss", "train NLL", "relative"),
    "loss": Mechanism("train_loss", "train NLL", "relative"),
    "dropout": Mechanism("train_loss", "train NLL", "relative"),
}
COLUMNS = ["benchmark", "regularizer", "mechanism", "value", "erm_value", "effect", "inactive"]


# the penalties whose mechanism is shrinking the weights; other penalties (irm, vrex, coral,
# the logit and input-gradient penalties …) act on something else, and get no verdict here
WEIGHT_PENALTIES = ("l1", "l2", "elastic_net", "weight_decay")


def mechanism_for(regularizer: str, kind: str | None) -> Mechanism | None:
    """The mechanism of a regularizer (display name, kind); None for norms, recipes, erm and
    for penalties that are not weight penalties."""
    if kind == "architecture":  # dropout changes the model; norm layers are structural
        return MECHANISMS["dropout"] if regularizer.startswith("dropout") else None
    if kind in ("penalty", "optimizer") and not regularizer.startswith(WEIGHT_PENALTIES):
        return None
    return MECHANISMS.get(kind or "")


def _run_numbers(runs: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per ok run: benchmark, regularizer, kind and its run-level mechanism metrics."""
    wanted = {"weight_norm", "restored_epoch", "epochs_run", "clipped_fraction", "train_loss"}
    wanted |= {mech.metric for mech in MECHANISMS.values()}
    rows = metrics[(metrics["split"] == "run") & metrics["metric"].isin(wanted)]
    wide = rows.pivot_table(index="run_key", columns="metric", values="value", aggfunc="mean")
    ok = runs[runs["status"] == "ok"].set_index("run_key")[["benchmark", "regularizer", "regularizer_kind"]]
    return ok.join(wide, how="left")


def mechanism_table(runs: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """Per (benchmark, regularizer) with a mechanism: its number, erm's, the effect, inactive.

    value/erm_value: mean over ok seeds (for "share": the share of seeds restoring early, erm
    has none). effect: value / erm_value - 1 for "relative", else the value itself.
    inactive: True/False, or NaN when erm or the metric is missing (no verdict).
    """
    t = _run_numbers(runs, metrics)
    out = []
    for (bench, reg), grp in t.groupby(["benchmark", "regularizer"], sort=True):
        mech = mechanism_for(str(reg), grp["regularizer_kind"].iloc[0])
        if mech is None or reg == BASELINE:
            continue
        erm = t[(t["benchmark"] == bench) & (t["regularizer"] == BASELINE)]
        value, erm_value, effect, inactive = _judge(mech, grp, erm)
        out.append([bench, reg, mech.label, value, erm_value, effect, inactive])
    return pd.DataFrame(out, columns=COLUMNS)


def _mean(frame: pd.DataFrame, col: str) -> float:
    return float(frame[col].mean()) if col in frame and frame[col].notna().any() else float("nan")


def _judge(mech: Mechanism, grp: pd.DataFrame, erm: pd.DataFrame) -> tuple[float, float, float, object]:
    if mech.rule == "share":
        if "restored_epoch" not in grp or grp["restored_epoch"].isna().all():
            return np.nan, np.nan, np.nan, np.nan
        share = float((grp["restored_epoch"] < grp["epochs_run"]).mean())
        return share, 0.0, share, share < MIN_RESTORED
    value = _mean(grp, mech.metric)
    if mech.rule in ("fraction", "distance"):
        floor = MIN_CLIPPED if mech.rule == "fraction" else MIN_AVERAGED_DISTANCE
        return value, 0.0, value, (value < floor) if np.isfinite(value) else np.nan
    erm_value = _mean(erm, mech.metric)
    if not (np.isfinite(value) and np.isfinite(erm_value)) or erm_value == 0:
        return value, erm_value, np.nan, np.nan
    effect = value / erm_value - 1.0
    # in the mechanism's direction: a SAM run that ends sharper than erm, or a weight penalty
    # whose weights grew, shows its number moving but not its mechanism at work
    return value, erm_value, effect, mech.direction * effect < RELATIVE_EFFECT


def render_markdown(table: pd.DataFrame, suite: str) -> str:
    """mechanisms.md: one row per (benchmark, regularizer) with a mechanism."""
    lines = [
        f"# Do the regularizers act? ({md(suite)})",
        "",
        "Each regularizer's mechanism number against erm's on the same benchmark, mean over ok seeds "
        f"(regbench/report/mechanism.py). Inactive: a relative change under {RELATIVE_EFFECT:.0%} in the "
        "mechanism's direction (weight norm down, train NLL up, top Hessian eigenvalue down); "
        f"early stopping restoring an earlier epoch in fewer than {MIN_RESTORED:.0%} of seeds; "
        f"gradient clipping on fewer than {MIN_CLIPPED:.0%} of steps.",
        "",
        "| Benchmark | Regularizer | Mechanism | Value | erm | Effect | Inactive |",
        "|---|---|---|---|---|---|---|",
    ]
    relative_labels = {m.label for m in MECHANISMS.values() if m.rule == "relative"}
    for r in table.itertuples(index=False):
        relative = r.mechanism in relative_labels
        value = "–" if not np.isfinite(r.value) else (f"{r.value:.4g}" if relative else f"{r.value:.0%}")
        erm = "–" if not (relative and np.isfinite(r.erm_value)) else f"{r.erm_value:.4g}"
        effect = "–" if not (relative and np.isfinite(r.effect)) else f"{r.effect:+.1%}"
        flag = "–" if pd.isna(r.inactive) else ("**inactive**" if r.inactive else "acts")
        names = " | ".join(md(v) for v in (r.benchmark, r.regularizer, r.mechanism))  # from suites: escaped
        lines.append(f"| {names} | {value} | {erm} | {effect} | {flag} |")
    return "\n".join(lines) + "\n"
