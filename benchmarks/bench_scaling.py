"""Speed of the harness beyond one CPU run (issue 8).

1. One epoch of resnet18 (CIFAR stem) on CIFAR-shaped random data (512 × 3×32×32, batch 128)
   through regbench's ``train`` vs a bare PyTorch loop doing the same work (same model, data,
   Adam, soft-target cross-entropy, per-epoch validation). Ratio = harness / bare.
   On CPU the model is narrowed (width 16 instead of 64) to keep the benchmark to a minute.
   The ratio to quote is ``test_resnet18_epoch_interleaved``'s (rounds alternate, see
   ``benchmarks/paired.py``), printed in the table at the end of ``make perf``.
2. Ray executor vs local executor on a suite of 20 tiny runs (digits + mlp, 1 epoch),
   both with 2 workers: the difference per run is Ray's overhead.

    PYTHONPATH=. python -m pytest benchmarks/bench_scaling.py --benchmark-only -q
"""

from __future__ import annotations

import pytest
import torch
import yaml
from torch import nn

import paired
from regbench.config import TrainSpec
from regbench.data.base import DatasetInfo, Examples, TrainingData
from regbench.models.resnet import resnet18
from regbench.regularizers.stack import Stack
from regbench.train.loop import train

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
WIDTH = 64 if DEVICE.type == "cuda" else 16
N, BATCH = 512, 128
SPEC = TrainSpec(epochs=1, batch_size=BATCH)


def _data():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(N, 3, 32, 32, generator=g)
    y = torch.randint(0, 10, (N,), generator=g)
    return TrainingData(Examples(x, y), Examples(x[:128], y[:128]), DatasetInfo("rand", 10, (3, 32, 32)))


def _model():
    torch.manual_seed(0)
    return resnet18((3, 32, 32), 10, width=WIDTH).to(DEVICE)


def _sync():
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def harness_epoch(data: TrainingData) -> None:
    """One epoch (and its validation) of a fresh model through regbench's ``train``."""
    train(_model(), data, Stack([]), SPEC, 0, DEVICE)
    _sync()


def bare_epoch(data: TrainingData) -> None:
    """The same epoch as a hand-written PyTorch loop."""
    model = _model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = data.train.x.to(DEVICE), data.train.y.to(DEVICE)
    xv, yv = data.val.x.to(DEVICE), data.val.y.to(DEVICE)
    if DEVICE.type == "cuda":
        model.to(memory_format=torch.channels_last)
    model.train()
    perm = torch.randperm(N, generator=torch.Generator().manual_seed(0)).to(DEVICE)
    for i in range(0, N, BATCH):
        idx = perm[i : i + BATCH]
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=DEVICE.type == "cuda"):
            logits = model(x[idx]).float()
        loss = nn.functional.cross_entropy(logits, y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        nn.functional.cross_entropy(model(xv).float(), yv).item()
    _sync()


@pytest.mark.benchmark(group="resnet18-epoch")
def test_resnet18_epoch_harness(benchmark):
    data = _data()
    benchmark.extra_info.update(device=str(DEVICE), width=WIDTH, n=N)
    benchmark.pedantic(harness_epoch, args=(data,), rounds=3, warmup_rounds=1)


@pytest.mark.benchmark(group="resnet18-epoch")
def test_resnet18_epoch_bare_pytorch(benchmark):
    data = _data()
    benchmark.extra_info.update(device=str(DEVICE), width=WIDTH, n=N)
    benchmark.pedantic(bare_epoch, args=(data,), rounds=3, warmup_rounds=1)


def test_resnet18_epoch_interleaved(benchmark):
    """The ratio to quote: harness and bare epochs alternating, 5 rounds each after one warm-up
    round (the two tests above time their rounds in blocks, and read 1.39× in one ``make perf``)."""
    data = _data()
    paired.run(
        benchmark,
        harness_epoch,
        bare_epoch,
        rounds=5,
        setup=lambda: (data,),
        pair="resnet18-epoch",
        device=str(DEVICE),
        width=WIDTH,
    )


def _tiny_suite(tmp_path):
    suite = {
        "name": "tiny20",
        "seeds": list(range(20)),
        # 62 steps: at 1 epoch of batch 128 (8 steps) about half the seeds were still predicting
        # one class, which the harness records as collapsed (not ok) since collapse detection
        "train": {"epochs": 2, "batch_size": 32},
        "benchmarks": [{"name": "d", "dataset": "digits", "model": "mlp", "model_args": {"width": 32}}],
        "regularizers": ["erm"],
    }
    path = tmp_path / "tiny20.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


# the Ray case is marked ray: benchmarks/conftest.py runs it last (Ray's teardown keeps using CPU)
@pytest.mark.parametrize("executor", ["local", pytest.param("ray", marks=pytest.mark.ray)])
@pytest.mark.benchmark(group="executor-20-tiny-runs")
def test_executor_20_tiny_runs(benchmark, tmp_path, executor):
    if executor == "ray":
        pytest.importorskip("ray", reason="ray is an optional extra: pip install -e '.[ray]'")
    from regbench.harness.plan import load_suite
    from regbench.harness.run_plan import run_plan
    from regbench.store import Store

    plan = load_suite(_tiny_suite(tmp_path))
    counter = iter(range(100))
    benchmark.extra_info.update(runs=len(plan.runs), workers=2)

    def sweep():
        store = Store(tmp_path / f"s{next(counter)}.sqlite")  # a fresh store: every run trains
        counts = run_plan(plan, store, workers=2, executor=executor, progress=False)
        store.close()
        assert counts["ok"] == 20

    benchmark.pedantic(sweep, rounds=2, warmup_rounds=0)
