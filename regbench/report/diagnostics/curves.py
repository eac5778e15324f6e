"""Overfitting / underfitting diagnosis from learning curves. numpy-free, torch-free.

The seed's rule: "If validation accuracy is bad and training accuracy is also bad, you have
a bias problem" (underfit); "training loss falls; validation loss stops or rises" (overfit).
Curves are the per-epoch lists recorded by the trainer: ``train_loss``, ``train_accuracy``
(on the labels the model was trained on, label noise included, in train mode), ``val_loss``,
``val_accuracy``. Accuracies and losses are read at the *delivered* epoch: the last one, or
the epoch whose weights were restored (early stopping), so a run whose rule kept the best
weights is judged on the model it delivered.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Thresholds:
    """The diagnosis thresholds (printed next to every diagnosis table)."""

    underfit_margin: float = 0.10  # train AND val accuracy this far below the reference best
    overfit_gap: float = 0.10  # train accuracy − val accuracy at the delivered epoch
    overfit_rise: float = 0.10  # val loss rise above its minimum, relative to that minimum

    def describe(self) -> str:
        return (
            f"underfit: train (clean, eval mode) and val accuracy both ≥ {self.underfit_margin:.2f} below the best run on the same "
            f"data (same data fingerprint and label noise) and val loss not rising (< {self.overfit_rise:.0%} above "
            f"its minimum); overfit: train − val accuracy ≥ {self.overfit_gap:.2f} "
            f"(train accuracy on the labels trained on) and val loss ≥ {self.overfit_rise:.0%} above its minimum "
            f"while train loss fell; ok otherwise "
            f"(underfit is checked first)"
        )


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class CurveSummary:
    """What the curves of one run say, read at the delivered epoch (1-based epochs)."""

    epochs: int
    delivered_epoch: int
    min_val_loss_epoch: int  # over the epochs up to the delivered one
    min_val_loss: float
    val_loss_rise: float  # val loss at the delivered epoch − its minimum (≥ 0)
    val_loss_rise_rel: float  # val_loss_rise / min_val_loss
    train_loss_drop: float  # train loss at the min-val epoch − at the delivered epoch
    rose_while_train_fell: bool
    train_accuracy: float
    val_accuracy: float
    gap: float  # train_accuracy − val_accuracy

    def as_dict(self) -> dict:
        return asdict(self)


def summarize(curves: dict[str, list[float]], delivered_epoch: int | None = None) -> CurveSummary:
    """Summarize one run's curves. ``delivered_epoch`` (1-based) defaults to the last epoch."""
    for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
        if not curves.get(key):
            raise ValueError(f"curves lack '{key}' (have: {sorted(k for k, v in curves.items() if v)})")
    n = len(curves["val_loss"])
    d = n if delivered_epoch is None else int(delivered_epoch)
    if not 1 <= d <= n:
        raise ValueError(f"delivered epoch {d} is outside the recorded 1..{n}")
    vl = curves["val_loss"][:d]
    m = min(range(d), key=vl.__getitem__)  # 0-based epoch of minimum val loss
    rise = vl[-1] - vl[m]
    drop = curves["train_loss"][m] - curves["train_loss"][d - 1]
    ta, va = curves["train_accuracy"][d - 1], curves["val_accuracy"][d - 1]
    return CurveSummary(
        epochs=n,
        delivered_epoch=d,
        min_val_loss_epoch=m + 1,
        min_val_loss=vl[m],
        val_loss_rise=rise,
        val_loss_rise_rel=rise / vl[m] if vl[m] > 0 else float("inf") if rise > 0 else 0.0,
        train_loss_drop=drop,
        rose_while_train_fell=rise > 0 and drop > 0,
        train_accuracy=ta,
        val_accuracy=va,
        gap=ta - va,
    )


def diagnose(
    s: CurveSummary,
    best_train_accuracy: float,
    best_val_accuracy: float,
    t: Thresholds = DEFAULT_THRESHOLDS,
    train_accuracy: float | None = None,
) -> str:
    """``underfit`` / ``overfit`` / ``ok`` for one run against the best run on the same data.

    ``train_accuracy`` (e.g. the evaluator's clean, eval-mode train accuracy) replaces the
    curve's train-mode accuracy in the underfit test; the curve's (on the labels trained on)
    stays in the overfit gap, where memorized noisy labels must count.
    """
    # a rising val loss means the model is already fitting noise: low accuracies then are not
    # a lack of capacity (e.g. a mid-width net at the interpolation threshold under label noise)
    rising = s.rose_while_train_fell and s.val_loss_rise_rel >= t.overfit_rise
    fit = s.train_accuracy if train_accuracy is None else train_accuracy
    if (
        fit <= best_train_accuracy - t.underfit_margin
        and s.val_accuracy <= best_val_accuracy - t.underfit_margin
        and not rising
    ):
        return "underfit"
    if s.gap >= t.overfit_gap and s.rose_while_train_fell and s.val_loss_rise_rel >= t.overfit_rise:
        return "overfit"
    return "ok"
