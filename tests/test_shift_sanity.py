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


# Accuracy may rise by at most this much from one severity to the next: one model on 450 test
# images has a binomial error of about 1 point, so two levels can swap by noise alone.
MONOTONE_TOLERANCE = 0.02
MIN_DROP_AT_5 = 0.10  # severity 5 costs ERM at least 10 points


def _published_corruptions(dataset: str) -> list[str]:
    """Every corruption a shipped suite applies to ``dataset`` (the covariate default if unset)."""
    from regbench.config import read_suite_file, suite_files
    from regbench.shifts.params.covariate import DEFAULT_CORRUPTIONS

    names: set[str] = set()
    for path in suite_files():
        for b in read_suite_file(path).benchmarks:
            if b.dataset == dataset and b.shift.kind == "covariate":
                names.update(b.shift.params.get("corruptions", DEFAULT_CORRUPTIONS))
    return sorted(names)


def test_erm_accuracy_falls_with_severity_on_every_published_digits_corruption(store_path, isolated_cache):
    """The calibrated severity tables bite on digits (regbench/shifts/corruptions/tables.py docstring)."""
    corruptions = _published_corruptions("digits")
    assert {"gaussian_noise", "impulse_noise", "contrast", "pixelate"} <= set(corruptions)
    suite = tiny_suite(
        seeds=[0], regularizers=["erm"], train={"epochs": 12, "batch_size": 128, "optimizer": "adam", "lr": 2e-3}
    )
    suite["benchmarks"] = [
        {
            "name": "digits-c",
            "dataset": "digits",
            "model": "cnn",
            "model_args": {"width": 16},
            "shift": {"kind": "covariate", "corruptions": corruptions, "severities": [1, 2, 3, 4, 5]},
        }
    ]
    assert run_plan(plan_suite(parse_suite(suite)), Store(store_path), workers=1, progress=False)["ok"] == 1
    _, metrics, _ = Store(store_path).frames("tiny")
    acc = metrics[metrics.metric == "accuracy"]
    clean = acc[acc.split == "test_id"].value.item()
    ood = acc[acc.split.str.startswith("ood/")]
    for name in corruptions:
        by_sev = ood[ood["shift"] == name].set_index("severity").value.sort_index()
        assert list(by_sev.index) == [1, 2, 3, 4, 5], name
        rises = [b - a for a, b in zip(by_sev, by_sev.iloc[1:])]
        assert max(rises) <= MONOTONE_TOLERANCE, (name, list(by_sev))
        assert clean - by_sev[5] >= MIN_DROP_AT_5, (name, clean, list(by_sev))
