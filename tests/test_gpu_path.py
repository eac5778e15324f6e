"""The GPU path: device errors, resnet18, deterministic mode, and CUDA-only checks (marked gpu)."""

from __future__ import annotations

import pytest
import torch
from scaling_helpers import statuses, write_suite
from torch import nn

from regbench.catalog import registries
from regbench.cli import main

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none visible to torch)")


def test_device_cuda_without_a_gpu_is_one_clear_line_and_exit_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    suite = write_suite(tmp_path)
    store = tmp_path / "s.sqlite"
    assert main(["run", str(suite), "--store", str(store), "--device", "cuda"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no CUDA GPU" in err and "Traceback" not in err
    assert not statuses(store)


def test_a_test_not_marked_gpu_runs_on_the_cpu_even_where_a_gpu_is_visible(tmp_path):
    """tests/conftest.py pins unmarked tests to the CPU: --device auto resolves to cpu, and
    worker processes see no GPU either (this test would fail on a GPU host without it)."""
    import json
    import os
    import sqlite3

    from regbench.train.loop import resolve_device

    assert resolve_device("auto") == torch.device("cpu") and os.environ["CUDA_VISIBLE_DEVICES"] == ""
    suite = write_suite(tmp_path, epochs=1, regularizers=["erm"])
    store = tmp_path / "s.sqlite"
    assert main(["run", str(suite), "--store", str(store), "--workers", "1", "--no-progress"]) == 0
    ((env,),) = sqlite3.connect(store).execute("SELECT env FROM runs").fetchall()
    assert json.loads(env)["device"] == "cpu"


def test_resnet18_has_the_cifar_stem_and_maps_norm_and_dropout():
    build = registries()["models"].get("resnet18")
    m = build((3, 32, 32), 10)
    assert (m.conv1.kernel_size, m.conv1.stride) == ((3, 3), (1, 1)) and isinstance(m.maxpool, nn.Identity)
    assert m(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert 11.0e6 < sum(p.numel() for p in m.parameters()) < 11.3e6  # ResNet-18's 11.2M (10 classes)
    g = build((3, 32, 32), 10, norm="group", dropout=0.3)
    assert not any(isinstance(x, nn.BatchNorm2d) for x in g.modules())
    assert sum(isinstance(x, nn.GroupNorm) for x in g.modules()) == 20  # every norm of the 20 in ResNet-18
    assert isinstance(g.fc[0], nn.Dropout) and g.fc[0].p == 0.3
    none = build((1, 8, 8), 4, norm="none", width=8)
    assert not any(isinstance(x, (nn.BatchNorm2d, nn.GroupNorm)) for x in none.modules())
    assert none(torch.randn(3, 1, 8, 8)).shape == (3, 4)


def test_resnet18_trains_through_the_harness_and_deterministic_mode_is_restored(tmp_path):
    suite = write_suite(tmp_path, epochs=1, regularizers=["erm"])
    text = (
        suite.read_text()
        .replace("model: mlp", "model: resnet18")
        .replace("model_args:\n    dropout: 0.1\n    width: 32", "model_args:\n    width: 4")
    )
    suite.write_text(text)
    store = tmp_path / "s.sqlite"
    before = torch.are_deterministic_algorithms_enabled()
    assert main(["run", str(suite), "--store", str(store), "--workers", "1", "--no-progress", "--deterministic"]) == 0
    assert list(statuses(store).values()) == ["ok"]
    assert torch.are_deterministic_algorithms_enabled() == before  # a run does not leak global flags


class _CompiledSpy(nn.Module):
    """Stands in for torch.compile's result: records the train/eval mode of every call."""

    def __init__(self, model: nn.Module, calls: list[bool]):
        super().__init__()
        self.model, self.calls = model, calls

    def forward(self, *args):
        self.calls.append(self.model.training)
        return self.model(*args)


def test_compile_option_reaches_torch_compile_and_keeps_the_run_key(tmp_path, monkeypatch):
    """A spy stands in for torch.compile (a real compile costs ~60 s on this CPU). Only the
    training forward goes through the compiled module: validation uses the eager one, so
    eval graphs are never compiled inside train_seconds."""
    compiled, calls = [], []
    monkeypatch.setattr(torch, "compile", lambda model, **kw: compiled.append(model) or _CompiledSpy(model, calls))
    suite = write_suite(tmp_path, epochs=1, regularizers=["erm"])
    a, b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    assert main(["run", str(suite), "--store", str(a), "--workers", "1", "--no-progress"]) == 0
    assert not compiled  # off by default
    assert main(["run", str(suite), "--store", str(b), "--workers", "1", "--no-progress", "--compile"]) == 0
    assert len(compiled) == 1 and isinstance(compiled[0], nn.Module)
    assert calls and all(calls)  # every compiled call was a training step; no validation pass
    assert statuses(a) == statuses(b) and set(statuses(b).values()) == {"ok"}  # same run key in both stores


# ---- CUDA only -----------------------------------------------------------------------


@pytest.mark.gpu
@needs_cuda
def test_cuda_training_uses_bf16_autocast_channels_last_and_device_resident_data():
    from regbench.config import TrainSpec
    from regbench.data.base import DatasetInfo, Examples, TrainingData
    from regbench.regularizers.stack import Stack
    from regbench.train.loop import train

    dev = torch.device("cuda")
    g = torch.Generator().manual_seed(0)
    ex = Examples(torch.rand(64, 3, 16, 16, generator=g), torch.randint(0, 4, (64,), generator=g))
    data = TrainingData(ex, ex, DatasetInfo("t", 4, (3, 16, 16)))
    model = registries()["models"].get("cnn")((3, 16, 16), 4).to(dev)
    seen = []
    conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    conv.register_forward_hook(
        lambda m, i, o: seen.append((i[0].device.type, o.dtype, i[0].is_contiguous(memory_format=torch.channels_last)))
    )
    train(model, data, Stack([]), TrainSpec(epochs=1, batch_size=32), 0, dev)
    assert seen[0] == ("cuda", torch.bfloat16, True)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.gpu
@needs_cuda
def test_every_regularizer_transform_runs_on_cuda_with_a_cuda_generator():
    from regbench.regularizers.base import Regularizer, SetupContext

    for name, cls in registries()["regularizers"].items():
        tasks = getattr(cls, "tasks", ())  # a recipe's is a property of its members: its instance knows
        if cls.transform is Regularizer.transform or (isinstance(tasks, tuple) and "classification" not in tasks):
            continue  # sequence transforms take token ids: tests/test_seq_harness.py
        r = cls()
        r.setup(SetupContext(10, (3, 32, 32), True, 1, "t", "cuda"))
        x = torch.rand(16, 3, 32, 32, device="cuda")
        y = nn.functional.one_hot(torch.arange(16, device="cuda") % 10, 10).float()
        g = torch.Generator(device="cuda").manual_seed(0)
        xo, yo = r.transform(x, y, g)
        assert xo.device.type == yo.device.type == "cuda", name
        assert xo.shape == x.shape and yo.shape == y.shape, name


@pytest.mark.gpu
@needs_cuda
def test_peak_gpu_memory_is_recorded(tmp_path):
    import json
    import sqlite3

    suite = write_suite(tmp_path, epochs=1)
    store = tmp_path / "s.sqlite"
    assert main(["run", str(suite), "--store", str(store), "--workers", "1", "--no-progress", "--device", "cuda"]) == 0
    ((timings, env),) = sqlite3.connect(store).execute("SELECT timings, env FROM runs").fetchall()
    assert json.loads(env)["device"].startswith("cuda") and json.loads(timings)["peak_memory_mb"] > 0
