"""Evaluation's batch size: chosen per model and device (issue #28), never changing a number."""

from __future__ import annotations

import torch

from regbench.data.base import DatasetInfo, Examples, Splits
from regbench.evaluate import classify, records
from regbench.models import build_model


def colored_splits(n: int = 300) -> Splits:
    g = torch.Generator().manual_seed(0)

    def ex(m: int) -> Examples:
        x = torch.randint(0, 256, (m, 2, 28, 28), generator=g, dtype=torch.uint8).float().div_(255.0)
        return Examples(x, torch.randint(0, 2, (m,), generator=g))

    info = DatasetInfo(name="fake", num_classes=2, input_shape=(2, 28, 28))
    return Splits(ex(n), ex(n // 2), ex(n // 2), {"test_env": ex(n // 2)}, info, {})


def wide_cnn(info: DatasetInfo) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("cnn", info, width=64, norm="group")


def test_cpu_batch_keeps_activations_under_the_budget():
    info = colored_splits(4).info
    model = wide_cnn(info).eval()
    x = torch.rand(10, 2, 28, 28)
    per_image = records.largest_output_bytes(model, x[:1])
    assert per_image == 64 * 28 * 28 * 4  # the first conv's output
    size = records.eval_batch_size(model, x)
    assert size < records.MAX_EVAL_BATCH and size * per_image <= records.CPU_ACTIVATION_BUDGET < 2 * size * per_image
    mlp = build_model("mlp", DatasetInfo(name="d", num_classes=10, input_shape=(64,)), width=64).eval()
    assert records.eval_batch_size(mlp, torch.rand(10, 64)) == records.MAX_EVAL_BATCH


def test_batch_size_does_not_change_logits():
    splits = colored_splits(300)
    model = wide_cnn(splits.info)
    chosen = records.predict_logits(model, splits.train.x)
    assert records.eval_batch_size(model, splits.train.x) < len(splits.train)  # several chunks
    assert torch.equal(chosen, records.predict_logits(model, splits.train.x, batch_size=1024))


def test_evaluation_is_the_same_at_the_old_batch_size(monkeypatch):
    """Every row, prediction and reliability bin as when every split went through in batches of 1,024."""
    splits = colored_splits(300)
    model = wide_cnn(splits.info)
    cpu = torch.device("cpu")
    new = classify.evaluate_classification(model, splits, 0, cpu)
    monkeypatch.setattr(records, "eval_batch_size", lambda model, x: 1024)
    old = classify.evaluate_classification(model, splits, 0, cpu)
    assert new.rows == old.rows
    assert new.predictions == old.predictions and new.targets == old.targets
    assert new.reliability == old.reliability


def test_stacked_evaluation_equals_per_seed_evaluation():
    """A seed-batched group's MLPs evaluated in one stacked pass per split give every number each
    model gives alone; a convolutional group is evaluated per seed."""
    from regbench.harness.seed_groups import _stacked_logits

    g = torch.Generator().manual_seed(1)

    def ex(n: int) -> Examples:  # 1,100 examples: one full chunk of 1,024 and a remainder
        return Examples(torch.rand(n, 1, 8, 8, generator=g), torch.randint(0, 10, (n,), generator=g))

    info = DatasetInfo(name="d", num_classes=10, input_shape=(1, 8, 8))
    splits = Splits(ex(1100), ex(300), ex(300), {"noise": ex(1100)}, info, {})
    torch.manual_seed(0)
    models = [build_model("mlp", info, width=64) for _ in range(3)]
    stacked = _stacked_logits(models, [None] * 3, splits)
    assert set(stacked) == {id(m) for m in models}
    assert set(stacked[id(models[0])]) == {"train", "val", "test_id", "ood/noise"}
    cpu = torch.device("cpu")
    for seed, model in enumerate(models):
        alone = classify.evaluate_classification(model, splits, seed, cpu)
        together = classify.evaluate_classification(model, splits, seed, cpu, stacked[id(model)])
        assert alone.rows == together.rows and alone.predictions == together.predictions
    cnns = [wide_cnn(colored_splits(4).info) for _ in range(2)]
    assert _stacked_logits(cnns, [None] * 2, colored_splits(20)) == {}
