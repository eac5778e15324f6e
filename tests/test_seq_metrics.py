"""Sequence metrics on hand-worked cases."""

import math

import pytest
import torch

from regbench.metrics.sequence import exact_match, sequence_metrics, token_accuracy, token_ece, token_nll

PAD, EOS = 0, 2


def test_exact_match_reads_up_to_eos_and_handles_lengths():
    targets = torch.tensor([[3, 4, EOS, PAD], [3, 4, EOS, PAD], [5, EOS, PAD, PAD], [5, EOS, PAD, PAD]])
    pred = torch.tensor(
        [
            [3, 4, EOS, 7, 7, 7],  # junk after EOS is ignored → match
            [3, 4, 4, EOS, PAD, PAD],  # one token too many → no match
            [5, 6, PAD, PAD, PAD, PAD],  # no EOS → no match
            [5, EOS, PAD, PAD, PAD, PAD],  # longer tensor, same sequence → match
        ]
    )
    assert exact_match(pred, targets, EOS, PAD).tolist() == [True, False, False, True]
    assert exact_match(pred[:, :2], targets, EOS, PAD).tolist() == [False, False, False, True]
    with pytest.raises(ValueError, match="batch sizes differ"):
        exact_match(pred[:2], targets, EOS, PAD)


def _logits_from_probs(probs: list[list[list[float]]]) -> torch.Tensor:
    return torch.tensor(probs).log()


def test_token_metrics_ignore_padding():
    # 1 row, 3 positions (last is PAD), 3 classes.
    logits = _logits_from_probs([[[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.0001, 0.0001, 0.9998]]])
    targets = torch.tensor([[1, 1, PAD]])
    # Position 0: guess 0 (wrong, conf 0.7); position 1: guess 1 (right, conf 0.6).
    assert token_accuracy(logits, targets, PAD) == pytest.approx(0.5)
    assert token_nll(logits, targets, PAD) == pytest.approx(-(math.log(0.2) + math.log(0.6)) / 2, rel=1e-5)
    # Bins of width 1/15: 0.7 and 0.6 fall in different bins → ECE = (|0 − .7| + |1 − .6|) / 2.
    assert token_ece(logits, targets, PAD) == pytest.approx((0.7 + 0.4) / 2, rel=1e-5)
    # Same bin → the gaps cancel inside it: |(0 + 1) − (0.62 + 0.61)| / 2.
    same_bin = _logits_from_probs([[[0.62, 0.28, 0.1], [0.1, 0.61, 0.29], [1 / 3, 1 / 3, 1 / 3]]])
    assert token_ece(same_bin, targets, PAD) == pytest.approx(abs(1 - 1.23) / 2, rel=1e-5)
    out = sequence_metrics(logits, targets, torch.tensor([[1, 1, EOS]]), EOS, PAD)
    assert set(out) == {"exact_match", "token_accuracy", "token_ece", "nll"} and out["exact_match"] == 0.0


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="disagree on"):
        token_accuracy(torch.zeros(2, 3, 5), torch.zeros(2, 4, dtype=torch.int64), PAD)
