"""Temperature scaling: fitted on validation only, reported as separate test columns."""

import dataclasses

import pytest
import torch

from regbench.catalog import registries
from regbench.config import parse_suite
from regbench.harness.plan import plan_suite
from regbench.harness.run_one import build_splits
from regbench.metrics import classification as M
from regbench.metrics.calibration import fit_temperature
from regbench.seeding import seeded_global_rng
from regbench.tasks import evaluate
from regbench.train.loop import predict_logits

SUITE = {
    "name": "ts",
    "seeds": [0],
    "benchmarks": [
        {
            "name": "d",
            "dataset": "digits",
            "model": "mlp",
            "model_args": {"width": 16},
            "shift": {"kind": "covariate", "corruptions": ["gaussian_noise"], "severities": [3]},
        }
    ],
    "regularizers": ["erm"],
}


def test_fit_recovers_a_known_temperature():
    g = torch.Generator().manual_seed(0)
    true = torch.randn(4000, 5, generator=g) * 2
    labels = torch.multinomial(torch.softmax(true, 1), 1, generator=g).squeeze(1)
    assert fit_temperature(true * 3.0, labels) == pytest.approx(3.0, rel=0.1)
    assert fit_temperature(true / 2.0, labels) == pytest.approx(0.5, rel=0.1)
    assert fit_temperature(torch.empty(0, 5), torch.empty(0, dtype=torch.long)) == 1.0


@pytest.fixture(scope="module")
def setup():
    spec = plan_suite(parse_suite(SUITE)).runs[0]
    splits = build_splits(spec.benchmark)
    with seeded_global_rng(0, "init"):
        model = registries()["models"].get("mlp")(splits.info.input_shape, splits.info.num_classes, width=16)
    # a few full-batch steps so that the model is confident enough to be miscalibrated
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(30):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(splits.train.x), splits.train.y).backward()
        opt.step()
    return model, splits


def _values(ev):
    return {(r["split"], r["metric"]): r["value"] for r in ev.rows}


def _permute_labels(ex, seed):
    g = torch.Generator().manual_seed(seed)
    return ex.replace(y=ex.y[torch.randperm(len(ex.y), generator=g)])


def test_temperature_never_reads_test_labels(setup):
    model, splits = setup
    base = _values(evaluate(model, splits, 0, torch.device("cpu")))
    shuffled = dataclasses.replace(
        splits,
        test_id=_permute_labels(splits.test_id, 1),
        ood={k: _permute_labels(v, 2) for k, v in splits.ood.items()},
    )
    other = _values(evaluate(model, shuffled, 0, torch.device("cpu")))
    assert other[("run", "temperature")] == base[("run", "temperature")]
    assert other[("test_id", "accuracy")] != base[("test_id", "accuracy")]  # the permutation did bite
    # ... while changing the *validation* labels does move the temperature
    val_shuffled = dataclasses.replace(splits, val=_permute_labels(splits.val, 3))
    moved = _values(evaluate(model, val_shuffled, 0, torch.device("cpu")))
    assert moved[("run", "temperature")] != pytest.approx(base[("run", "temperature")], rel=1e-3)


def test_scaled_test_metrics_use_the_val_temperature(setup):
    model, splits = setup
    ev = evaluate(model, splits, 0, torch.device("cpu"))
    v = _values(ev)
    t = fit_temperature(predict_logits(model, splits.val.x), splits.val.y)
    assert v[("run", "temperature")] == pytest.approx(t)
    for name, ex in splits.test_splits().items():
        probs = torch.softmax(predict_logits(model, ex.x) / t, 1)
        assert v[(name, "ece_ts")] == pytest.approx(M.ece(probs, ex.y))
        assert v[(name, "nll_ts")] == pytest.approx(M.nll(probs, ex.y))
        assert (name, "ece") in v  # the uncalibrated column is still there
    # scaling minimizes val NLL, so on the (same-distribution) test_id split NLL should not get worse by much
    assert v[("test_id", "nll_ts")] <= v[("test_id", "nll")] + 0.05
    # rows of scaled metrics carry the split's shift description like the others
    row = next(r for r in ev.rows if r["metric"] == "ece_ts" and r["split"].startswith("ood/"))
    ref = next(r for r in ev.rows if r["metric"] == "ece" and r["split"] == row["split"])
    assert (row["family"], row["shift"], row["severity"]) == (ref["family"], ref["shift"], ref["severity"])


def test_test_labels_are_stored_for_the_decomposition(setup):
    model, splits = setup
    from regbench.report.diagnostics import unpack_labels

    ev = evaluate(model, splits, 0, torch.device("cpu"))
    assert set(ev.targets) == set(splits.test_splits()) == set(ev.predictions)
    assert unpack_labels(ev.targets["test_id"]).tolist() == splits.test_id.y.tolist()
