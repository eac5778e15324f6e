"""The device-placement tier: the CUDA code paths run on a fake CUDA device on the CPU.

Training epochs, every regularizer's hooks, evaluation of both tasks, checkpoint save and
resume and the metrics run on FakeTensor CUDA tensors (tests/fake_cuda.py), so a CPU tensor
mixed into device code fails here as it would on a GPU ("Expected all tensors to be on the
same device"), and a value read from the device inside the step loop (a GPU sync per step)
is counted. Numbers are placeholders: only placement and reads are checked.
"""

from __future__ import annotations

from unittest import mock

import fake_cuda as fc
import pytest
import torch
from fake_cuda import CUDA, fake_cuda
from tiny_workloads import BATCH, image_splits, model_for, scan_splits, splits_for, stack_of

from regbench.catalog import registries
from regbench.config import TrainSpec
from regbench.data.base import DatasetInfo, Examples, Splits
from regbench.metrics import classification as M
from regbench.metrics import sequence as S
from regbench.regularizers.stack import Stack
from regbench.tasks import task_for
from regbench.train import loop
from regbench.train.checkpoint import Checkpointer
from regbench.train.execution import wants_channels_last
from regbench.train.loop import train

NAMES = registries()["regularizers"].names()


def fake_epoch(name: str, steps: int) -> tuple[int, set[str], int]:
    """One training epoch of ``steps`` batches on fake CUDA → (device reads, parameter devices,
    host-to-device copies)."""
    stack = stack_of(name)
    splits = splits_for(stack, steps)
    model = model_for(splits, stack)
    with fake_cuda():
        model.to(CUDA)
        train(model, splits.training_data(), stack, TrainSpec(epochs=1, batch_size=BATCH), 0, CUDA)
        reads, uploads = len(fc.READS), len(fc.UPLOADS)
        devices = {p.device.type for p in model.parameters()}
    return reads, devices, uploads


@pytest.mark.parametrize("name", NAMES)
def test_a_training_epoch_stays_on_the_device_and_reads_nothing_per_step(name):
    """Every registered regularizer's hooks, on CUDA tensors: no device mismatch, and the
    device reads of an epoch (loss, accuracy, validation) and its host-to-device copies (the
    data moving up once) do not grow with its step count."""
    two, devices, up_two = fake_epoch(name, 2)
    four, _, up_four = fake_epoch(name, 4)
    assert devices == {"cuda"}
    assert four == two, f"{name}: {four - two} more device reads over 2 more steps: a GPU sync per step"
    assert up_four == up_two, (
        f"{name}: {up_four - up_two} more uploads over 2 more steps: a host-to-device copy per step"
    )


def full_batch_reads(name: str, env: torch.Tensor) -> int:
    """Device reads of 2 full-batch epochs of ``name`` on fake CUDA, training environments ``env`` (N,)."""
    n = len(env)
    g = torch.Generator().manual_seed(0)
    ex = Examples(torch.rand(n, 3, 16, 16, generator=g), torch.randint(0, 4, (n,), generator=g), {"env": env})
    splits = Splits(ex, ex, ex, {"c/1": ex}, DatasetInfo("t", 4, (3, 16, 16), True))
    stack = stack_of(name)
    model = model_for(splits, stack)
    with fake_cuda():
        model.to(CUDA)
        train(model, splits.training_data(), stack, TrainSpec(epochs=2, batch_size=4 * n), 0, CUDA)
        return len(fc.READS)


@pytest.mark.parametrize("name", ["irm", "vrex", "group_dro", "coral", "mmd", "fishr"])
def test_a_full_batch_of_unequal_environments_splits_without_a_device_read(name):
    """The paper's full-batch protocol with environments of 5 and 3 examples: the batch holds
    all 8, split by counts known on the CPU; as many reads as ERM's (per epoch, not per split)."""
    env = torch.tensor([0, 1, 0, 0, 1, 0, 1, 0])
    assert full_batch_reads(name, env) == full_batch_reads("erm", env)


def test_the_read_counter_sees_a_per_step_sync():
    """The guard above can fail: a hook that reads a value from the device each step is caught."""

    real_transform = Stack.transform

    def transform(self, x, y, g):  # stands in for a hook that reads a value every step
        float(x.sum())
        return real_transform(self, x, y, g)

    with mock.patch.object(Stack, "transform", transform):
        two, _, _ = fake_epoch("mixup", 2)
        four, _, _ = fake_epoch("mixup", 4)
    assert four - two == 2


def test_the_upload_counter_sees_a_per_step_host_to_device_copy():
    """The upload guard above can fail: a hook that builds a table on the host and copies it
    to the device every step (as torchvision's affine ops do with their matrix) is caught."""

    real_transform = Stack.transform

    def transform(self, x, y, g):  # stands in for a per-call torch.tensor(..., device=x.device)
        x = x + torch.tensor([0.0, 0.0], device=x.device).sum()
        return real_transform(self, x, y, g)

    with mock.patch.object(Stack, "transform", transform):
        _, _, two = fake_epoch("mixup", 2)
        _, _, four = fake_epoch("mixup", 4)
    assert four - two == 2


@pytest.mark.parametrize("make", [image_splits, scan_splits], ids=["classification", "seq2seq"])
def test_evaluation_runs_on_the_device(make):
    """Both tasks' evaluation (temperature, every split's metrics and reliability bins, MIA)
    with the model and data on CUDA: this is where every CUDA run used to fail."""
    splits = make(16)
    stack = Stack([])
    model = model_for(splits, stack)
    with fake_cuda():
        model.to(CUDA)
        ev = task_for(splits.info).evaluate(model, splits, 0, CUDA)
    assert {"test_id", "ood/c/1" if make is image_splits else "ood/simple"} <= set(ev.reliability)
    assert {r["metric"] for r in ev.rows} >= {"accuracy", "ece", "nll", "brier", "mia_auc"}
    if make is image_splits:  # its val holds two environments: per-environment rows, from the device
        assert {"val/env0", "val/env1"} <= {r["split"] for r in ev.rows}


def test_metrics_accept_cuda_inputs():
    g = torch.Generator().manual_seed(0)
    probs_cpu = torch.softmax(torch.randn(32, 5, generator=g), 1)
    labels_cpu = torch.randint(0, 5, (32,), generator=g)
    with fake_cuda():
        probs, labels = probs_cpu.to(CUDA), labels_cpu.to(CUDA)
        rel = M.reliability(probs, labels)
        values = [
            M.accuracy(probs, labels),
            M.ece(probs, labels),
            M.nll(probs, labels),
            M.brier(probs, labels),
            M.worst_group_accuracy(probs.argmax(1), labels, labels % 2),
            M.auc(probs[:, 0], probs[:, 1]),
            M.disagreement(probs.argmax(1), labels),
        ]
        logits, targets = torch.randn(4, 6, 7, device=CUDA), torch.randint(0, 7, (4, 6), device=CUDA)
        values += [S.token_ece(logits, targets, 0), S.token_accuracy(logits.cpu(), targets.cpu(), 0)]
    assert len(rel["count"]) == 15 and all(isinstance(v, float) for v in values)


def test_checkpoint_saved_on_cuda_resumes_on_cuda_with_the_optimizer_state_placed(tmp_path):
    """Saved: RNG states on the CPU, the model's tensors from the device. Resumed: weights and
    Adam's moments on the device, Adam's step counters on the CPU (reading them does not sync)."""
    splits, stack = image_splits(16), Stack([])
    ckpt = Checkpointer(tmp_path / "k.pt", 1, "k")
    stop = RuntimeError("stop after the first checkpoint")
    save = Checkpointer.save

    def save_then_stop(self, state):
        save(self, state)
        raise stop

    model = model_for(splits, stack)
    with fake_cuda(), mock.patch.object(Checkpointer, "save", save_then_stop):
        model.to(CUDA)
        with pytest.raises(RuntimeError, match="stop after"):
            train(model, splits.training_data(), stack, TrainSpec(epochs=3, batch_size=BATCH), 0, CUDA, checkpoint=ckpt)
        saved = fc.SAVED[-1]
    assert saved["rng"]["device_type"] == "cuda"
    assert {t.device.type for k, t in saved["rng"].items() if isinstance(t, torch.Tensor)} == {"cpu"}
    assert {t.device.type for t in saved["model"].values()} == {"cuda"}

    made = []
    real_make = loop.make_optimizer
    model = model_for(splits, stack)
    with fake_cuda(), mock.patch.object(loop, "make_optimizer", lambda *a: made.append(real_make(*a)) or made[-1]):
        model.to(CUDA)
        result = train(
            model, splits.training_data(), stack, TrainSpec(epochs=3, batch_size=BATCH), 0, CUDA, checkpoint=ckpt
        )
        (opt,) = made
        states = list(opt.state.values())
        placed = {(k, v.device.type) for s in states for k, v in s.items()}
    assert result.resumed_from_epoch == 1
    assert placed == {("step", "cpu"), ("exp_avg", "cuda"), ("exp_avg_sq", "cuda")}


def test_a_run_on_the_second_gpu_stays_there_and_draws_its_augmentations_there():
    """cuda:1, not cuda:0: model, data and the augmentation generator follow the run's device."""
    gpu1 = torch.device("cuda", 1)
    stack = stack_of("crop_flip")
    splits = image_splits(2 * BATCH)
    model = model_for(splits, stack)
    with fake_cuda(), mock.patch.object(torch.cuda, "device_count", lambda: 2):
        model.to(gpu1)
        train(model, splits.training_data(), stack, TrainSpec(epochs=1, batch_size=BATCH), 0, gpu1)
        placed = {str(p.device) for p in model.parameters()}
        asked = dict((keys[-1], device) for keys, device in fc.GENERATORS)
    assert placed == {"cuda:1"}
    assert asked == {"order": "cpu", "augment": "cuda:1"}


def test_a_cuda_generator_given_to_a_cpu_op_fails_as_on_a_gpu():
    """The loop's augmentation generator is on the run's device: a hook that draws from it
    for a CPU tensor (what torch refuses on a GPU host) fails here too."""

    real_transform = Stack.transform

    def transform(self, x, y, g):  # a CPU draw from the run's CUDA generator
        torch.rand(len(y), generator=g)
        return real_transform(self, x, y, g)

    with mock.patch.object(Stack, "transform", transform), pytest.raises(Exception, match="device type for generator"):
        fake_epoch("mixup", 2)


def forwards_in_bf16(model: torch.nn.Module, run) -> list[bool]:
    """For each forward pass of ``model`` during ``run()`` on fake CUDA (training steps and
    validation), whether it ran inside the run's autocast region (bf16 on a GPU)."""
    inside: list[bool] = []
    model.register_forward_pre_hook(lambda module, args: inside.append(fc.BF16_REGIONS[0] > 0))
    with fake_cuda():
        model.to(CUDA)
        run()
    return inside


def test_training_steps_compute_in_bf16_on_cuda():
    """The loop's training forward passes run under the run's autocast (records say bf16)."""
    stack = stack_of("erm")
    splits = splits_for(stack, 3)
    model = model_for(splits, stack)
    spec = TrainSpec(epochs=1, batch_size=BATCH)
    inside = forwards_in_bf16(model, lambda: train(model, splits.training_data(), stack, spec, 0, CUDA))
    assert inside.count(True) == 3  # the 3 steps; validation is fp32


def test_seed_batched_training_steps_compute_in_bf16_on_cuda():
    """A seed-batched group's stacked forward runs under the same autocast as a separate run,
    so the bf16 its records state is what it computed."""
    from regbench.train.seed_batch import train_seed_batch

    stacks = [stack_of("erm"), stack_of("erm")]
    splits = splits_for(stacks[0], 3)
    models = [model_for(splits, stacks[0]), model_for(splits, stacks[1])]
    spec = TrainSpec(epochs=1, batch_size=BATCH)

    def run():
        models[1].to(CUDA)
        train_seed_batch(models, splits.training_data(), stacks, spec, [0, 1], CUDA)

    inside = forwards_in_bf16(models[0], run)
    assert inside.count(True) == 3, inside  # one stacked forward per step; validation is fp32


def channels_last_epoch(name: str) -> None:
    """One epoch of ``name`` on a CNN, fake CUDA, with the loop's channels-last batches on (the
    fake tier turns them off elsewhere): a ``.view`` that needs NCHW strides raises here. The
    parameters keep their layout (fake parameters refuse the in-place swap); a layout only."""
    stack = stack_of(name)
    splits = splits_for(stack, 2)
    model = model_for(splits, stack)
    real_to = torch.nn.Module.to

    def to(self, *args, **kwargs):
        return self if not args and set(kwargs) == {"memory_format"} else real_to(self, *args, **kwargs)

    with (
        fake_cuda(),
        mock.patch("regbench.train.loop.wants_channels_last", wants_channels_last),
        mock.patch.object(torch.nn.Module, "to", to),
    ):
        model.to(CUDA)
        train(model, splits.training_data(), stack, TrainSpec(epochs=1, batch_size=BATCH), 0, CUDA)


@pytest.mark.parametrize("name", ["erm", "coral", "fishr", "mixup", "randaugment", "crop_flip"])
def test_channels_last_batches_reach_the_model_and_hooks(name):
    """The CNN on CUDA gets NHWC batches; model and hooks must not ``.view`` them as NCHW."""
    channels_last_epoch(name)


def test_a_view_of_a_channels_last_batch_is_caught():
    """The case above can fail: a hook flattening the batch with ``.view`` (NCHW strides assumed)."""
    real_forward = torch.nn.Conv2d.forward

    def forward(self, x):  # a flatten that only works on NCHW-contiguous inputs
        x.view(len(x), -1)
        return real_forward(self, x)

    with (
        mock.patch.object(torch.nn.Conv2d, "forward", forward),
        pytest.raises((RuntimeError, ValueError), match="view"),
    ):
        channels_last_epoch("erm")


def test_evaluation_forward_runs_in_the_runs_bf16_and_returns_fp32_logits():
    """predict_logits on CUDA enters bf16 autocast (the run's precision) and hands fp32 logits
    to the metrics; planted bug check: without the autocast ``entered`` is empty."""
    from regbench.evaluate import records

    stack = stack_of("erm")
    splits = splits_for(stack, 1)
    model = model_for(splits, stack)
    entered, real = [], records.eval_precision

    def spy(device):
        ctx = real(device)
        entered.append((device.type, getattr(ctx, "fast_dtype", None)))
        return ctx

    with fake_cuda(), mock.patch.object(records, "eval_precision", spy):
        model.to(CUDA)
        logits = records.predict_logits(model, splits.test_id.x.to(CUDA))
        assert logits.dtype == torch.float32 and logits.device.type == "cuda"
    assert entered == [("cuda", torch.bfloat16)]
