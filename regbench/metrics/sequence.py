"""Metrics for sequence outputs: exact match, token accuracy, token-level ECE and NLL.

Pure functions of tensors. ``targets`` are the decoder's expected outputs ``a_1 … a_n EOS``
followed by PAD (that is, ``y[:, 1:]`` of a SCAN batch); PAD positions are never scored.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

ECE_BINS = 15  # equal-width confidence bins, as in Guo et al. 2017 (https://arxiv.org/abs/1706.04599)


def _after_eos_to_pad(seq: torch.Tensor, eos: int, pad: int) -> torch.Tensor:
    """(B, T) → (B, T) with every position after the first EOS set to PAD (EOS kept)."""
    is_eos = (seq == eos).to(torch.int64)
    seen_before = (torch.cumsum(is_eos, dim=1) - is_eos) > 0
    return torch.where(seen_before, torch.full_like(seq, pad), seq)


def exact_match(pred: torch.Tensor, targets: torch.Tensor, eos: int, pad: int) -> torch.Tensor:
    """(B,) bool: does each predicted sequence equal its target up to and including EOS?

    pred: (B, Tp) int64 decoded tokens (e.g. ``greedy_decode`` output); targets: (B, Tt) int64.
    Lengths may differ; whatever follows the first EOS is ignored on both sides, and a
    prediction without EOS never matches (the target always has one).
    """
    if pred.shape[0] != targets.shape[0]:
        raise ValueError(f"batch sizes differ: pred {tuple(pred.shape)}, targets {tuple(targets.shape)}")
    t = max(pred.shape[1], targets.shape[1])
    p = F.pad(_after_eos_to_pad(pred, eos, pad), (0, t - pred.shape[1]), value=pad)
    y = F.pad(_after_eos_to_pad(targets, eos, pad), (0, t - targets.shape[1]), value=pad)
    return (p == y).all(dim=1)


def exact_match_accuracy(pred: torch.Tensor, targets: torch.Tensor, eos: int, pad: int) -> float:
    """Fraction of rows of (B, Tp) ``pred`` that match (B, Tt) ``targets`` exactly."""
    return exact_match(pred, targets, eos, pad).float().mean().item()


def _scored(logits: torch.Tensor, targets: torch.Tensor, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Flatten (B, T, V) logits and (B, T) targets to the (M, V), (M,) non-PAD positions."""
    if logits.shape[:2] != targets.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and targets {tuple(targets.shape)} disagree on (B, T)")
    # on the CPU: the PAD mask's size depends on the values (a GPU sync and a device read)
    logits, targets = logits.cpu(), targets.cpu()
    keep = targets != pad
    return logits[keep], targets[keep]


def token_accuracy(logits: torch.Tensor, targets: torch.Tensor, pad: int) -> float:
    """Fraction of non-PAD positions where argmax of (B, T, V) logits equals (B, T) targets."""
    lg, y = _scored(logits, targets, pad)
    return (lg.argmax(-1) == y).float().mean().item()


def token_nll(logits: torch.Tensor, targets: torch.Tensor, pad: int) -> float:
    """Mean negative log-likelihood (nats per token) over non-PAD positions."""
    lg, y = _scored(logits, targets, pad)
    return F.cross_entropy(lg.float(), y).item()


def token_ece(logits: torch.Tensor, targets: torch.Tensor, pad: int, bins: int = ECE_BINS) -> float:
    """Expected calibration error over non-PAD tokens: Σ_b (n_b / n) · |acc_b − conf_b|.

    Confidence is the max softmax probability; bin b holds confidences in (b/bins, (b+1)/bins].
    """
    lg, y = _scored(logits, targets, pad)
    conf, guess = torch.softmax(lg.float(), dim=-1).max(dim=-1)
    # binned on the CPU: CUDA's bincount with weights accumulates with atomics (not reproducible)
    conf, correct = conf.cpu(), (guess == y).float().cpu()
    edges = torch.linspace(0, 1, bins + 1)
    idx = (torch.bucketize(conf, edges, right=False) - 1).clamp(0, bins - 1)
    n = torch.bincount(idx, minlength=bins).float()
    gap = torch.bincount(idx, weights=correct - conf, minlength=bins)  # Σ (acc − conf) per bin
    return (gap.abs().sum() / n.sum()).item()


def sequence_metrics(
    logits: torch.Tensor, targets: torch.Tensor, pred: torch.Tensor, eos: int, pad: int
) -> dict[str, float]:
    """All four metrics: teacher-forced (B, T, V) logits, (B, T) targets, (B, Tp) decoded pred."""
    return {
        "exact_match": exact_match_accuracy(pred, targets, eos, pad),
        "token_accuracy": token_accuracy(logits, targets, pad),
        "token_ece": token_ece(logits, targets, pad),
        "nll": token_nll(logits, targets, pad),
    }


def teacher_forced_exact_match(logits: torch.Tensor, targets: torch.Tensor, pad: int) -> torch.Tensor:
    """(B,) bool: is the argmax of (B, T, V) teacher-forced logits right at every non-PAD target?

    Equals :func:`exact_match` of greedy decoding (up to floating-point near-ties): greedy
    decoding reproduces the target iff every step, fed the correct prefix, picks the correct
    next token — which is what teacher forcing computes for all steps at once.
    """
    if logits.shape[:2] != targets.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and targets {tuple(targets.shape)} disagree on (B, T)")
    return ((logits.argmax(-1) == targets) | (targets == pad)).all(dim=1)
