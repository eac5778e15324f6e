"""A broken plugin fails its own runs with a message naming the hook; the store's baselines stay untouched."""

from __future__ import annotations

import sqlite3
import textwrap

import pytest
import torch
from plugin_registry import clean_registry  # noqa: F401  (autouse fixture)

from regbench.cli import main
from regbench.regularizers.base import Batch, Regularizer
from regbench.regularizers.stack import HookError, Stack
from regbench.store import Store


class BadLoss(Regularizer):
    registered_name = "bad_loss"

    def loss(self, logits, y):
        return -(y * logits.log_softmax(-1))  # (B, K): forgot the reduction


class BadTransform(Regularizer):
    registered_name = "bad_transform"

    def transform(self, x, y, g):
        return x[:, :1], y


class Raises(Regularizer):
    registered_name = "raises"

    def penalty(self, model, batch):
        raise ValueError("boom")


class NanPenalty(Regularizer):
    registered_name = "nan_penalty"

    def penalty(self, model, batch):
        return batch.logits.sum() * float("nan")


def batch(b=4, k=3):
    x, y = torch.randn(b, 2, 5, 5), torch.eye(k)[torch.arange(b) % k]
    return x, y, torch.randn(b, k, requires_grad=True)


def test_loss_of_the_wrong_shape_names_regularizer_and_hook():
    _, y, logits = batch()
    with pytest.raises(HookError) as info:
        Stack([BadLoss()]).loss(logits, y)
    assert str(info.value) == "regularizer 'bad_loss' hook loss returned shape (4, 3), expected a scalar"


def test_transform_must_keep_shapes():
    x, y, _ = batch()
    with pytest.raises(
        HookError,
        match=r"regularizer 'bad_transform' hook transform returned x with shape "
        r"\(4, 1, 5, 5\), expected shape \(4, 2, 5, 5\)",
    ):
        Stack([BadTransform()]).transform(x, y, torch.Generator())


def test_an_exception_inside_a_hook_is_wrapped_with_its_name():
    x, y, logits = batch()
    with pytest.raises(HookError, match="regularizer 'raises' hook penalty raised ValueError: boom"):
        Stack([Raises()]).penalty(torch.nn.Linear(1, 1), Batch(x, y, logits))


def test_a_non_finite_penalty_is_attributed_without_a_sync_per_step():
    x, y, logits = batch()
    stack = Stack([Regularizer(), NanPenalty()])
    out = stack.penalty(torch.nn.Linear(1, 1), Batch(x, y, logits))
    assert torch.isnan(out)  # returned as-is: the check is read only when the trainer diverges
    assert stack.nonfinite_report() == "regularizer 'nan_penalty' hook penalty produced a non-finite value (nan)"
    assert Stack([Regularizer()]).nonfinite_report() == ""


BAD_PLUGINS = textwrap.dedent("""
    import torch
    from regbench import Regularizer, register_regularizer

    @register_regularizer("bad_plugin")
    class BadPlugin(Regularizer):
        def loss(self, logits, y):
            return -(y * torch.log_softmax(logits, -1))  # (B, K): not reduced

    @register_regularizer("nan_plugin")
    class NanPlugin(Regularizer):
        def penalty(self, model, batch):
            return batch.logits.sum() * float("nan")
""")

SUITE = textwrap.dedent("""
    name: hooks
    seeds: [0, 1]
    train: {epochs: 1, batch_size: 256}
    benchmarks:
      - {name: d, dataset: digits, model: mlp, model_args: {width: 16},
         shift: {kind: covariate, corruptions: [gaussian_noise], severities: [3]}}
    regularizers: [erm, label_smoothing]
""")


def dump(path, keys):
    """Every stored byte of the given runs: their runs, metrics and predictions rows."""
    db = sqlite3.connect(path)
    marks = ",".join("?" * len(keys))
    out = [
        db.execute(f"SELECT * FROM {t} WHERE run_key IN ({marks}) ORDER BY 1, 2", sorted(keys)).fetchall()
        for t in ("runs", "metrics", "predictions", "reliability")
    ]
    db.close()
    return out


def test_broken_plugins_fail_their_own_runs_and_leave_baselines_byte_identical(tmp_path):
    suite, plug, store = tmp_path / "hooks.yaml", tmp_path / "bad.py", tmp_path / "s.sqlite"
    suite.write_text(SUITE)
    plug.write_text(BAD_PLUGINS)
    common = [
        "--suite",
        str(suite),
        "--store",
        str(store),
        "--workers",
        "1",
        "--no-leaderboard",
        "--no-progress",
        "--out",
        str(tmp_path / "lb"),
    ]
    assert main(["run", str(suite), "--store", str(store), "--workers", "1", "--no-progress"]) == 0
    baseline = set(Store(store).statuses())
    before = dump(store, baseline)
    assert main(["compare", f"{plug}:BadPlugin", *common]) == 1
    assert main(["compare", f"{plug}:NanPlugin", *common]) == 1
    assert dump(store, baseline) == before  # baselines untouched, byte for byte
    recs = {(r["regularizer"], r["seed"]): r for r in Store(store).records() if r["run_key"] not in baseline}
    assert len(recs) == 4
    for seed in (0, 1):
        bad, nan = recs[("bad_plugin", seed)], recs[("nan_plugin", seed)]
        assert bad["status"] == "failed"
        assert "regularizer 'bad_plugin' hook loss returned shape (" in bad["error"]
        assert "expected a scalar" in bad["error"]
        assert nan["status"] == "diverged"
        assert "regularizer 'nan_plugin' hook penalty produced a non-finite value" in nan["error"]
    (report_file,) = (tmp_path / "lb").glob("compare-bad_plugin-*.md")  # named by the submission's identity
    report = report_file.read_text()
    assert "2 of 2 runs of bad_plugin did not finish" in report and "hook loss returned shape" in report
