"""End to end on a tiny suite: the shifts really shift (a sanity check, not a tuned number)."""

from conftest import tiny_suite

from regbench.config import parse_suite
from regbench.harness.plan import plan_suite
from regbench.harness.run_plan import run_plan
from regbench.store import Store


def test_erm_ood_accuracy_is_below_id_on_corrupted_and_spurious(store_path, isolated_cache):
    suite = tiny_suite(seeds=[0], regularizers=["erm"], train={"epochs": 6, "batch_size": 128, "lr": 0.003})
    suite["benchmarks"] = [
        {
            "name": "corrupted",
            "dataset": "digits",
            "model": "mlp",
            "model_args": {"width": 64},
            "shift": {"kind": "covariate", "corruptions": ["impulse_noise", "contrast"], "severities": [5]},
        },
        {
            "name": "spurious",
            "dataset": "digits",
            "model": "mlp",
            "model_args": {"width": 64},
            "shift": {"kind": "spurious", "train_agreement": 0.9, "test_agreement": 0.1},
        },
    ]
    counts = run_plan(plan_suite(parse_suite(suite)), Store(store_path), workers=1, progress=False)
    assert counts["ok"] == 2
    runs, metrics, _ = Store(store_path).frames("tiny")
    acc = metrics[metrics.metric == "accuracy"].merge(runs[["run_key", "benchmark"]], on="run_key")
    for bench in ("corrupted", "spurious"):
        rows = acc[acc.benchmark == bench]
        id_acc = rows[rows.split == "test_id"].value.item()
        ood_acc = rows[rows.split.str.startswith("ood/")].value.mean()
        assert id_acc > 0.5, (bench, id_acc)
        assert ood_acc < id_acc - 0.05, (bench, id_acc, ood_acc)
