"""Domingos' 0-1 bias–variance decomposition and churn on constructed predictions."""

import numpy as np
import pytest

from regbench.report.diagnostics import churn, decompose, main_prediction, unpack_labels


def test_all_seeds_agree_and_are_right():
    labels = np.array([0, 1, 2, 3, 4])
    d = decompose(np.tile(labels, (4, 1)), labels)
    assert (d.bias, d.variance, d.churn, d.mean_error, d.net_variance) == (0, 0, 0, 0, 0)
    assert (d.runs, d.n) == (4, 5)


def test_all_seeds_agree_and_are_wrong_is_pure_bias():
    labels = np.array([0, 1, 2])
    d = decompose(np.tile([1, 2, 0], (3, 1)), labels)
    assert d.bias == 1 and d.variance == 0 and d.mean_error == 1


def test_disagreeing_seeds_have_variance():
    labels = np.array([0, 0, 0, 0])
    preds = np.array([[0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 2, 0]])
    d = decompose(preds, labels)
    assert d.variance > 0 and d.churn > 0
    assert d.bias == 0  # the mode is right everywhere


def test_worked_example_by_hand():
    # 3 runs × 4 examples. Per example (mode, B, V, loss):
    #   x0: [0,0,0] t=0 → mode 0, B 0, V 0,   L 0
    #   x1: [1,2,1] t=1 → mode 1, B 0, V 1/3, L 1/3
    #   x2: [2,2,1] t=2 → mode 2, B 0, V 1/3, L 1/3
    #   x3: [1,1,2] t=0 → mode 1, B 1, V 1/3, L 1   (no run leaving the mode is right: c = 0)
    # bias 1/4; variance 1/4; unbiased var (0+1/3+1/3)/4 = 1/6; biased var 1/12;
    # net variance = 1/6 − 0 = 1/6; mean error 5/12 = bias + net variance.
    # churn: pairs (0,1) 1/4, (0,2) 2/4, (1,2) 3/4 → 1/2.
    preds = np.array([[0, 1, 2, 1], [0, 2, 2, 1], [0, 1, 1, 2]])
    labels = np.array([0, 1, 2, 0])
    d = decompose(preds, labels)
    assert d.bias == pytest.approx(1 / 4)
    assert d.variance == pytest.approx(1 / 4)
    assert d.unbiased_variance == pytest.approx(1 / 6)
    assert d.biased_variance == pytest.approx(1 / 12)
    assert d.net_variance == pytest.approx(1 / 6)
    assert d.mean_error == pytest.approx(5 / 12)
    assert d.churn == pytest.approx(1 / 2)


def test_variance_on_a_biased_example_can_reduce_loss():
    # x: runs predict [1, 1, 0], t = 0 → mode 1 (B 1), V 1/3, and the run that leaves the mode
    # is right: c = −1, so the loss is 1 − 1/3 = 2/3 < bias.
    d = decompose(np.array([[1], [1], [0]]), np.array([0]))
    assert d.bias == 1 and d.net_variance == pytest.approx(-1 / 3) and d.mean_error == pytest.approx(2 / 3)


def test_tie_goes_to_smallest_label():
    assert main_prediction(np.array([[3, 2], [1, 5]])).tolist() == [1, 2]
    d = decompose(np.array([[0], [1]]), np.array([1]))
    assert d.bias == 1 and d.variance == 0.5


def test_identity_mean_error_is_bias_plus_net_variance():
    rng = np.random.default_rng(0)
    for _ in range(20):
        preds = rng.integers(0, 4, size=(5, 50))
        labels = rng.integers(0, 4, size=50)
        d = decompose(preds, labels)
        assert d.mean_error == pytest.approx(d.bias + d.net_variance)
        assert d.variance == pytest.approx(d.unbiased_variance + d.biased_variance)


def test_churn_of_one_run_is_nan():
    assert np.isnan(churn(np.array([[0, 1]])))


@pytest.mark.parametrize(
    "preds, labels, match",
    [
        (np.array([0, 1]), np.array([0, 1]), "runs, examples"),
        (np.array([[0, 1]]), np.array([0, 1, 2]), "labels must have shape"),
        (np.array([[0.5, 1.0]]), np.array([0, 1]), "integer class labels"),
        (np.array([[-1, 1]]), np.array([0, 1]), "integer class labels"),
    ],
)
def test_bad_input_is_a_clear_error(preds, labels, match):
    with pytest.raises(ValueError, match=match):
        decompose(preds, labels)


def test_numpy_unpacker_matches_the_evaluators_packer():
    import torch

    from regbench.evaluate.records import pack_predictions, unpack_predictions

    y = torch.tensor([0, 9, 3, 3, 1, 299])
    blob = pack_predictions(y)
    assert unpack_labels(blob).tolist() == y.tolist() == unpack_predictions(blob).tolist()


def test_diagnostics_and_report_side_never_import_torch():
    import subprocess
    import sys

    code = (
        "import sys, regbench.report.diagnostics, regbench.report.diagnostics.markdown, regbench.commands.diagnose; "
        "sys.exit('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_curve_diagnosis_rules():
    from regbench.report.diagnostics import Thresholds, diagnose, summarize

    flat = {
        "train_loss": [2.0, 1.9, 1.9],
        "train_accuracy": [0.2, 0.2, 0.2],
        "val_loss": [2.0, 1.95, 1.95],
        "val_accuracy": [0.2, 0.2, 0.2],
    }
    memorizing = {
        "train_loss": [1.0, 0.5, 0.1],
        "train_accuracy": [0.7, 0.9, 1.0],
        "val_loss": [0.6, 0.5, 0.9],
        "val_accuracy": [0.8, 0.85, 0.8],
    }
    s = summarize(memorizing)
    assert (s.min_val_loss_epoch, s.delivered_epoch, s.gap) == (2, 3, pytest.approx(0.2))
    assert s.rose_while_train_fell and s.val_loss_rise_rel == pytest.approx(0.8)
    assert diagnose(s, 1.0, 0.85) == "overfit"
    assert diagnose(summarize(flat), 1.0, 0.85) == "underfit"
    # the same run judged at the epoch early stopping restored is fine
    assert diagnose(summarize(memorizing, delivered_epoch=2), 1.0, 0.85) == "ok"
    # low accuracies while val loss rises are overfitting, not a lack of capacity
    assert diagnose(summarize(memorizing), 1.0, 1.0, Thresholds(overfit_gap=0.5)) == "ok"
    with pytest.raises(ValueError, match="outside the recorded"):
        summarize(flat, delivered_epoch=4)
    with pytest.raises(ValueError, match="curves lack 'val_loss'"):
        summarize({**flat, "val_loss": []})
