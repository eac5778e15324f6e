"""Metric definitions on hand-worked examples (docs/metrics.md)."""

import math

import pytest
import torch

from regbench.metrics import classification as M


def probs_of(conf_pred):
    """Build (N, 2) probabilities whose max is conf and whose argmax is pred."""
    rows = []
    for conf, pred in conf_pred:
        rows.append([conf, 1 - conf] if pred == 0 else [1 - conf, conf])
    return torch.tensor(rows, dtype=torch.float64)


def test_ece_hand_worked():
    # Four examples in two bins (15 bins: (0.6, 0.667] holds 0.65 and 0.62; (0.867, 0.933] holds 0.9 twice).
    # bin A: conf mean 0.635, accuracy 1/2 → |0.5 − 0.635| = 0.135, weight 2/4
    # bin B: conf mean 0.9, accuracy 2/2 → |1 − 0.9| = 0.1, weight 2/4
    probs = probs_of([(0.65, 0), (0.62, 1), (0.9, 0), (0.9, 1)])
    labels = torch.tensor([0, 0, 0, 1])
    assert M.ece(probs, labels) == pytest.approx(0.5 * 0.135 + 0.5 * 0.1, abs=1e-12)


def test_ece_perfectly_calibrated_and_worst_case():
    probs = probs_of([(1.0, 0)] * 5)
    assert M.ece(probs, torch.zeros(5, dtype=torch.long)) == pytest.approx(0.0)
    assert M.ece(probs, torch.ones(5, dtype=torch.long)) == pytest.approx(1.0)


def test_bin_edges_are_right_closed():
    conf = torch.tensor([0.0, 1 / 15, 1 / 15 + 1e-9, 1.0], dtype=torch.float64)
    assert M.bin_index(conf, 15).tolist() == [0, 0, 1, 14]


def test_reliability_counts_and_empty_bins():
    probs = probs_of([(0.65, 0), (0.62, 1), (0.9, 0), (0.9, 1)])
    r = M.reliability(probs, torch.tensor([0, 0, 0, 1]))
    assert sum(r["count"]) == 4 and len(r["count"]) == 15
    assert r["count"][9] == 2 and r["accuracy"][9] == 0.5
    assert r["count"][0] == 0 and r["confidence"][0] == 0.0


def test_nll_brier_accuracy_hand_worked():
    probs = torch.tensor([[0.8, 0.2], [0.4, 0.6]], dtype=torch.float64)
    labels = torch.tensor([0, 0])
    assert M.accuracy(probs, labels) == 0.5
    assert M.nll(probs, labels) == pytest.approx(-(math.log(0.8) + math.log(0.4)) / 2)
    # Brier: ((0.8−1)² + 0.2²) and ((0.4−1)² + 0.6²), averaged
    assert M.brier(probs, labels) == pytest.approx((0.08 + 0.72) / 2)


def test_worst_group_accuracy():
    pred = torch.tensor([0, 0, 1, 1, 1])
    labels = torch.tensor([0, 0, 1, 0, 0])
    groups = torch.tensor([0, 0, 1, 2, 2])
    assert M.worst_group_accuracy(pred, labels, groups) == 0.0


def test_auc_and_membership_inference():
    g = torch.Generator().manual_seed(0)
    same = M.membership_inference_auc(torch.rand(4000, generator=g), torch.rand(4000, generator=g))
    assert abs(same - 0.5) < 0.03
    assert M.membership_inference_auc(torch.tensor([0.1, 0.2]), torch.tensor([0.5, 0.9])) == 1.0
    assert M.membership_inference_auc(torch.tensor([0.5, 0.9]), torch.tensor([0.1, 0.2])) == 0.0
    # ties count half
    assert M.auc(torch.tensor([1.0, 1.0]), torch.tensor([1.0])) == 0.5


def test_disagreement():
    assert M.disagreement(torch.tensor([1, 2, 3, 4]), torch.tensor([1, 0, 3, 0])) == 0.5
