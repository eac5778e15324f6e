"""Metric definitions (docs/metrics.md — the definitions are part of the contract).

All functions take probabilities, not logits: ``probs`` (N, K) rows summing to 1 and
``labels`` (N,) int64, and return Python floats. Bins for calibration are 15 equal-width
confidence intervals (lo, hi] (the first also holds 0), as in Guo et al. 2017
(arXiv:1706.04599); ECE is the L1 form Σ_b |B_b|/n · |acc(B_b) − conf(B_b)|.
"""

from __future__ import annotations

import torch


def accuracy(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of argmax predictions equal to the label. probs (N, K), labels (N,)."""
    return (probs.argmax(dim=1) == labels).double().mean().item()


def bin_index(conf: torch.Tensor, n_bins: int) -> torch.Tensor:
    """Bin of each confidence in [0, 1]: bins are (b/n, (b+1)/n], bin 0 also holds 0. (N,) → (N,)."""
    return (torch.ceil(conf.double() * n_bins).long() - 1).clamp(0, n_bins - 1)


def reliability(probs: torch.Tensor, labels: torch.Tensor, n_bins: int = 15) -> dict[str, list[float]]:
    """Reliability-diagram data: per bin mean confidence, accuracy and count (empty bins: 0).

    probs (N, K), labels (N,) → {"confidence": [n_bins], "accuracy": [n_bins], "count": [n_bins]}.
    """
    conf, pred = probs.double().max(dim=1)
    # Bin on the CPU whatever device the inputs are on: the counters must share the index's
    # device, and CUDA's index_add_ accumulates with atomics (not bit-reproducible). These
    # are two (N,) vectors, read back once per evaluated split.
    conf, correct = conf.cpu(), (pred == labels).double().cpu()
    b = bin_index(conf, n_bins)
    count = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, b, torch.ones_like(conf))
    conf_sum = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, b, conf)
    acc_sum = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, b, correct)
    safe = count.clamp(min=1)
    return {
        "confidence": (conf_sum / safe).tolist(),
        "accuracy": (acc_sum / safe).tolist(),
        "count": count.tolist(),
    }


def ece(probs: torch.Tensor, labels: torch.Tensor, n_bins: int = 15) -> float:
    """Expected calibration error, L1, ``n_bins`` equal-width bins. probs (N, K), labels (N,)."""
    r = reliability(probs, labels, n_bins)
    n = max(sum(r["count"]), 1.0)
    return sum(c / n * abs(a - f) for c, a, f in zip(r["count"], r["accuracy"], r["confidence"]))


def nll(probs: torch.Tensor, labels: torch.Tensor, eps: float = 1e-12) -> float:
    """Mean negative log-likelihood of the true class. probs (N, K), labels (N,)."""
    p = probs.double().gather(1, labels[:, None]).squeeze(1)
    return (-torch.log(p.clamp(min=eps))).mean().item()


def brier(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """Brier score: mean over examples of Σ_k (p_k − 1[k = y])². probs (N, K), labels (N,)."""
    onehot = torch.nn.functional.one_hot(labels, probs.shape[1]).double()
    return ((probs.double() - onehot) ** 2).sum(dim=1).mean().item()


def worst_group_accuracy(pred: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor) -> float:
    """Lowest accuracy over the groups present (wilds' ``acc_wg``). pred, labels, groups: (N,)."""
    # on the CPU: unique and masks have value-dependent shapes (one GPU sync per group)
    correct, groups = (pred == labels).double().cpu(), groups.cpu()
    accs = [correct[groups == g].mean().item() for g in torch.unique(groups)]
    return min(accs) if accs else float("nan")


def auc(pos_scores: torch.Tensor, neg_scores: torch.Tensor) -> float:
    """P(score_pos > score_neg) + ½ P(=): the ROC AUC (Mann–Whitney U), ties counted half.

    pos_scores (P,), neg_scores (Q,).
    """
    scores = torch.cat([pos_scores.cpu(), neg_scores.cpu()]).double()  # ranks: value-dependent shapes
    ranks = _average_ranks(scores)
    p, q = len(pos_scores), len(neg_scores)
    if p == 0 or q == 0:
        return float("nan")
    u = ranks[:p].sum().item() - p * (p + 1) / 2
    return u / (p * q)


def _average_ranks(x: torch.Tensor) -> torch.Tensor:
    """1-based ranks with ties given their average rank. (N,) → (N,) float64."""
    order = torch.argsort(x, stable=True)
    sorted_x = x[order]
    ranks = torch.empty_like(x, dtype=torch.float64)
    ranks[order] = torch.arange(1, len(x) + 1, dtype=torch.float64)
    _, inverse, counts = torch.unique_consecutive(sorted_x, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).double()
    avg = ends - (counts.double() - 1) / 2
    ranks[order] = avg[inverse]
    return ranks


def membership_inference_auc(member_losses: torch.Tensor, nonmember_losses: torch.Tensor) -> float:
    """Loss-threshold attack (Yeom et al., arXiv:1709.01604): AUC of −loss separating members.

    0.5 = no leakage; 1 = every member has a lower loss than every non-member.
    member_losses (P,), nonmember_losses (Q,) per-example losses.
    """
    return auc(-member_losses, -nonmember_losses)


def disagreement(pred_a: torch.Tensor, pred_b: torch.Tensor) -> float:
    """Fraction of examples on which two runs predict different labels (churn). (N,), (N,)."""
    return (pred_a != pred_b).double().mean().item()
