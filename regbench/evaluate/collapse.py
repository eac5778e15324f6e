"""Is a trained classifier collapsed? Its test predictions are one class, or it learned nothing on train.

A collapsed run is a training failure, not a regularizer's effect: the harness records it as
``collapsed`` (with every metric kept) and the leaderboard counts it beside failed and diverged
runs instead of averaging it (docs/metrics.md, "Collapsed runs"). Two rules, either suffices:

- **Constant predictions.** On some scored test split (test_id or an OOD split) one class
  takes at least ``CONSTANT_SHARE`` of the predictions, and that share exceeds the class's
  true share in the split by at least ``PRIOR_MARGIN``. The margin keeps a label-shift split
  whose true labels are almost all one class from marking a correct classifier: a classifier's
  predicted share of a class exceeds its true share by at most its error rate, so no
  classifier with accuracy above 1 − ``PRIOR_MARGIN`` on the split is marked there.
- **Chance train accuracy.** The final (clean) train accuracy is at most 1/K plus
  ``CHANCE_Z`` binomial standard errors of a chance-level classifier on the train set's N
  images, sqrt(1/K (1 − 1/K) / N) — at chance or below it.

Classification only: a seq2seq task's "predictions" are per-sequence exact-match flags, not
classes, and its evaluation never calls this.
"""

from __future__ import annotations

import math

import torch

from regbench.evaluate.records import Evaluation, unpack_predictions

CONSTANT_SHARE = 0.99  # one predicted class on ≥ 99% of a split's images
PRIOR_MARGIN = 0.10  # … and on ≥ 10 points more of them than the class's true share
CHANCE_Z = 2.0  # train accuracy ≤ 1/K + 2 binomial standard errors is "at chance"


def constant_prediction(pred: torch.Tensor, y: torch.Tensor, num_classes: int) -> tuple[int, float, float] | None:
    """(class, predicted share, true share) when ``pred`` is collapsed onto one class, else None.

    pred, y: (N,) integer labels of one split (predicted, true). Collapsed: the most predicted
    class has share ≥ ``CONSTANT_SHARE`` and exceeds its true share by ≥ ``PRIOR_MARGIN``.
    """
    n = len(pred)
    if n == 0:
        return None
    counts = torch.bincount(pred.long().cpu(), minlength=num_classes)
    top = int(counts.argmax())
    share = float(counts[top]) / n
    true_share = float((y.long().cpu() == top).sum()) / n
    if share >= CONSTANT_SHARE and share - true_share >= PRIOR_MARGIN:
        return top, share, true_share
    return None


def chance_ceiling(num_classes: int, n: int) -> float:
    """The highest train accuracy still "at chance": 1/K + ``CHANCE_Z`` · sqrt(1/K (1 − 1/K) / n)."""
    p = 1.0 / num_classes
    return p + CHANCE_Z * math.sqrt(p * (1 - p) / max(n, 1))


def collapse_reason(ev: Evaluation, num_classes: int) -> str | None:
    """One line saying why the evaluated classifier is collapsed, or None when it is not.

    ``ev``: a classification evaluation with packed predictions and targets per test split and
    a ``train``/``accuracy`` row (its ``n`` is the train set's size); ``num_classes``: K. The
    first collapsed split in evaluation order (test_id, then the OOD splits) is named, with how many
    more there are; failing that, a chance-level train accuracy.
    """
    if num_classes < 2:
        return None
    found = []
    for split in ev.predictions:  # evaluation order: test_id, then the OOD splits
        if split not in ev.targets:
            continue
        hit = constant_prediction(
            unpack_predictions(ev.predictions[split]), unpack_predictions(ev.targets[split]), num_classes
        )
        if hit is not None:
            found.append((split, *hit))
    if found:
        split, cls, share, true_share = found[0]
        more = f" (and on {len(found) - 1} more test splits)" if len(found) > 1 else ""
        return (
            f"collapsed: predicts class {cls} for {share:.1%} of {split}'s images (true share {true_share:.1%}){more}"
        )
    row = next((r for r in ev.rows if r["split"] == "train" and r["metric"] == "accuracy"), None)
    if row is not None and row["n"]:
        ceiling = chance_ceiling(num_classes, int(row["n"]))
        if row["value"] <= ceiling:
            return (
                f"collapsed: train accuracy {row['value']:.1%} is at chance "
                f"(1/{num_classes} = {1 / num_classes:.1%}; at most {ceiling:.1%} on {int(row['n'])} images)"
            )
    return None
