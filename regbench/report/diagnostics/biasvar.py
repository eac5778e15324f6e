"""Bias–variance decomposition of 0-1 loss across runs (Domingos 2000, ICML "A Unified
Bias-Variance Decomposition"), plus prediction churn. numpy only: the report uses it.

For R runs that differ by seed (and, with ``data_resample: bootstrap``, by training set),
each test example x has R predicted labels y_1..y_R and a true label t. Then, per example:

- main prediction y_m = the mode of y_1..y_R; a tie goes to the **smallest** label (a fixed,
  documented rule, so the decomposition is deterministic);
- bias B(x) = 1[y_m ≠ t] (Domingos assumes noise-free labels; label noise, if any, is folded
  into bias);
- variance V(x) = (1/R) Σ_i 1[y_i ≠ y_m];
- expected loss L(x) = (1/R) Σ_i 1[y_i ≠ t].

Domingos' identity L(x) = B(x) + c(x)·V(x) holds exactly on the empirical distribution of
runs, with c = 1 when B = 0 (variance adds error on unbiased examples) and
c = −P(y = t | y ≠ y_m) when B = 1 (variance can only *remove* error on biased examples).
So ``mean_error = bias + net_variance`` with
net_variance = unbiased_variance − Σ_x B(x)·P(y = t | y ≠ y_m)·V(x)/N.

Churn is the mean pairwise disagreement Σ_{i<j} mean_x 1[y_i ≠ y_j] / C(R, 2).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Decomposition:
    """Averages over the examples of one split (all in [0, 1] except net_variance ∈ [−1, 1])."""

    runs: int
    n: int
    mean_error: float  # average 0-1 loss of the individual runs
    bias: float  # error of the main prediction
    variance: float  # mean disagreement of each run with the main prediction
    unbiased_variance: float  # variance on examples where the main prediction is right
    biased_variance: float  # variance on examples where the main prediction is wrong
    net_variance: float  # mean_error − bias (Domingos' net variance)
    churn: float  # mean pairwise disagreement between runs

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def main_prediction(preds: np.ndarray, num_classes: int | None = None) -> np.ndarray:
    """Mode over runs of each example's predicted label; ties → smallest label.

    preds (R, N) integer labels ≥ 0 → (N,) int64.
    """
    preds = _check_preds(preds)
    k = int(num_classes if num_classes is not None else preds.max() + 1)
    counts = np.zeros((preds.shape[1], k), dtype=np.int64)  # (N, K) votes
    np.add.at(counts, (np.broadcast_to(np.arange(preds.shape[1]), preds.shape), preds), 1)
    return counts.argmax(axis=1)  # argmax returns the first maximum: the smallest label


def churn(preds: np.ndarray) -> float:
    """Mean pairwise disagreement between runs. preds (R, N) → float (nan for R < 2)."""
    preds = _check_preds(preds)
    r = preds.shape[0]
    if r < 2:
        return float("nan")
    pairs = [(preds[i] != preds[j]).mean() for i in range(r) for j in range(i + 1, r)]
    return float(np.mean(pairs))


def decompose(preds: np.ndarray, labels: np.ndarray) -> Decomposition:
    """Domingos' 0-1 bias–variance decomposition of ``preds`` (R, N) against ``labels`` (N,)."""
    preds = _check_preds(preds)
    labels = np.asarray(labels).astype(np.int64)
    if labels.shape != (preds.shape[1],):
        raise ValueError(f"labels must have shape ({preds.shape[1]},) to match preds {preds.shape}; got {labels.shape}")
    k = int(max(preds.max(), labels.max()) + 1)
    r, n = preds.shape
    ym = main_prediction(preds, k)  # (N,)
    b = (ym != labels).astype(np.float64)  # (N,) bias per example
    off_main = preds != ym[None, :]  # (R, N)
    v = off_main.mean(axis=0)  # (N,) variance per example
    loss = (preds != labels[None, :]).mean(axis=0)  # (N,)
    # P(y = t | y ≠ y_m): among the runs that leave the main prediction, the share that are right
    hits = ((preds == labels[None, :]) & off_main).sum(axis=0)
    p_right = np.divide(hits, off_main.sum(axis=0), out=np.zeros(n), where=off_main.any(axis=0))
    c = np.where(b == 0, 1.0, -p_right)
    return Decomposition(
        runs=r,
        n=n,
        mean_error=float(loss.mean()),
        bias=float(b.mean()),
        variance=float(v.mean()),
        unbiased_variance=float(((1 - b) * v).mean()),
        biased_variance=float((b * v).mean()),
        net_variance=float((c * v).mean()),
        churn=churn(preds),
    )


def _check_preds(preds: np.ndarray) -> np.ndarray:
    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[0] < 1 or preds.shape[1] < 1:
        raise ValueError(f"preds must be a non-empty (runs, examples) array; got shape {preds.shape}")
    if not np.issubdtype(preds.dtype, np.integer) or preds.min() < 0:
        raise ValueError("preds must hold non-negative integer class labels")
    return preds.astype(np.int64)
