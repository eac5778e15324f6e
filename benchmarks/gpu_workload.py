"""The cifar10c workload on one GPU, timed against a bare PyTorch loop (docs/scaling.md, GPU).

Fabricates CIFAR-10 and CIFAR-10-C in their published formats at their real sizes (50,000 +
10,000 CIFAR-10 images; per corruption 5 severities × 10,000 × 32 × 32 × 3 uint8), runs the
cifar10c suite's 21 regularizers × 1 seed with a CIFAR ResNet-18 through ``regbench run
--device cuda``, then the same training work in a bare loop (same model, data on the GPU,
SGD + cosine, bf16 autocast, channels-last, one validation pass per epoch). Prints and writes
``OUT/summary.json``: per run train/eval seconds, samples per second and peak memory; GPU
utilization sampled by ``nvidia-smi`` during each phase; and the harness/bare ratio.

    PYTHONPATH=. python benchmarks/gpu_workload.py --out /tmp/gpu-workload             # 30 epochs
    PYTHONPATH=. python benchmarks/gpu_workload.py --out /tmp/gpu-workload --epochs 1 --corruptions 2
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import pickle
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import numpy as np
import yaml

N_TRAIN, N_TEST, PER_BATCH = 50_000, 10_000, 10_000


def fabricate(root: Path, n_corruptions: int) -> tuple[dict[str, str], list[str]]:
    """CIFAR-10 python batches and CIFAR-10-C .npy files of the real sizes → (md5 sums, corruptions)."""
    from regbench.data.cifar import CIFAR10C_CORRUPTIONS

    rng = np.random.default_rng(0)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, 6):
        labels = rng.integers(0, 10, PER_BATCH)
        data = rng.integers(0, 256, (PER_BATCH, 3072), dtype=np.uint8)
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps({"labels": labels.tolist(), "data": data}))
    test_labels = rng.integers(0, 10, N_TEST)
    test = {"labels": test_labels.tolist(), "data": rng.integers(0, 256, (N_TEST, 3072), dtype=np.uint8)}
    (folder / "test_batch").write_bytes(pickle.dumps(test))
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": names}))
    md5 = {f.name: hashlib.md5(f.read_bytes()).hexdigest() for f in folder.iterdir()}
    c_folder = root / "CIFAR-10-C"
    c_folder.mkdir(exist_ok=True)
    np.save(c_folder / "labels.npy", np.tile(test_labels, 5).astype(np.uint8))
    corruptions = list(CIFAR10C_CORRUPTIONS[:n_corruptions])
    for c in corruptions:
        np.save(c_folder / f"{c}.npy", rng.integers(0, 256, (5 * N_TEST, 32, 32, 3), dtype=np.uint8))
    return md5, corruptions


def write_suite(out: Path, root: Path, md5: dict, corruptions: list[str], epochs: int) -> Path:
    """The shipped cifar10c suite (its training recipe and 21 regularizers), 1 seed, on the fabricated data."""
    from regbench.config import SUITES_DIR

    shipped = yaml.safe_load((SUITES_DIR / "cifar10c.yaml").read_text())
    suite = {
        "name": "gpu-workload",
        "seeds": [0],
        "train": {**shipped["train"], "epochs": epochs},
        "benchmarks": [
            {
                "name": "cifar10-c-fabricated",
                "dataset": "cifar10-c",
                "dataset_args": {"root": str(root), "md5": md5, "corruptions": corruptions},
                "model": "resnet18",
                "shift": {"kind": "predefined"},
            }
        ],
        "regularizers": shipped["regularizers"],
    }
    path = out / "gpu-workload.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return path


class Utilization:
    """GPU utilization (%) sampled every 0.5 s by nvidia-smi while the block runs (None without it)."""

    def __init__(self, log: Path):
        self.log, self.proc = log, None

    def __enter__(self):
        if shutil.which("nvidia-smi"):
            query = ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "-lms", "500"]
            self.proc = subprocess.Popen(query, stdout=self.log.open("w"), stderr=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait()

    def mean(self) -> float | None:
        values = [float(v) for v in self.log.read_text().split()] if self.log.exists() else []
        return sum(values) / len(values) if values else None


def bare_loop(epochs: int, train: dict, n_train: int, n_val: int) -> dict:
    """The same training work without the harness: ResNet-18 on GPU-resident data of the same size."""
    import torch
    import torch.nn.functional as F

    from regbench.models.resnet import resnet18

    dev = torch.device("cuda")
    torch.backends.cudnn.benchmark = True
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n_train, 3, 32, 32, generator=g).to(dev)
    y = torch.randint(0, 10, (n_train,), generator=g).to(dev)
    xv, yv = x[:n_val], y[:n_val]
    model = resnet18((3, 32, 32), 10).to(dev).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=train["lr"], momentum=train["momentum"])
    bs = train["batch_size"]
    steps = math.ceil(n_train / bs)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / (epochs * steps))))
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(n_train, device=dev)
        loss_sum = torch.zeros((), device=dev)
        for i in range(0, n_train, bs):
            idx = perm[i : i + bs]
            with torch.autocast("cuda", dtype=torch.bfloat16):
                logits = model(x[idx].contiguous(memory_format=torch.channels_last)).float()
            loss = F.cross_entropy(logits, y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.detach()
        model.eval()
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            val = sum(F.cross_entropy(model(xv[i : i + 1024]).float(), yv[i : i + 1024]) for i in range(0, n_val, 1024))
        float(loss_sum + val)  # one read per epoch, as the harness does
    seconds = time.perf_counter() - t0
    return {"train_seconds": seconds, "samples_per_second": epochs * n_train / seconds}


def run_records(store: Path) -> list[dict]:
    db = sqlite3.connect(store)
    rows = db.execute("SELECT regularizer, status, timings, error FROM runs ORDER BY regularizer").fetchall()
    db.close()
    return [{"regularizer": r, "status": s, **json.loads(t or "{}"), "error": (e or "")[:200]} for r, s, t, e in rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="work folder (data, cache, store, summary.json)")
    ap.add_argument("--epochs", type=int, default=30, help="epochs per run (the cifar10c suite's: 30)")
    ap.add_argument("--corruptions", type=int, default=19, help="how many of the 19 CIFAR-10-C corruptions")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ["REGBENCH_CACHE"] = str(args.out / "cache")
    t0 = time.perf_counter()
    md5, corruptions = fabricate(args.out / "data", args.corruptions)
    suite = write_suite(args.out, args.out / "data", md5, corruptions, args.epochs)
    print(f"fabricated data in {time.perf_counter() - t0:.0f} s", flush=True)

    from regbench.cli import main as regbench

    store = args.out / "store.sqlite"
    store.unlink(missing_ok=True)
    with Utilization(args.out / "util-harness.log") as util:
        t0 = time.perf_counter()
        rc = regbench(["run", str(suite), "--store", str(store), "--device", "cuda", "--no-progress"])
        harness_wall = time.perf_counter() - t0
    runs = run_records(store)
    train = yaml.safe_load(suite.read_text())["train"]
    n_train = int(N_TRAIN * 0.9)  # the loader's default val_fraction 0.1
    with Utilization(args.out / "util-bare.log") as bare_util:
        bare = bare_loop(args.epochs, train, n_train, N_TRAIN - n_train)
    erm = next((r for r in runs if r["regularizer"] == "erm" and r["status"] == "ok"), None)
    summary = {
        "exit_code": rc,
        "epochs": args.epochs,
        "corruptions": len(corruptions),
        "harness_wall_seconds": harness_wall,
        "harness_gpu_utilization_percent": util.mean(),
        "runs": runs,
        "bare_loop": {**bare, "gpu_utilization_percent": bare_util.mean()},
        "erm_over_bare_samples_per_second": erm["samples_per_second"] / bare["samples_per_second"] if erm else None,
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    for r in runs:
        print(
            f"{r['regularizer']:<16} {r['status']:<8} train {r.get('train_seconds', 0):7.1f} s  "
            f"eval {r.get('eval_seconds', 0):6.1f} s  {r.get('samples_per_second', 0):8.0f} samples/s  "
            f"peak {r.get('peak_memory_mb', 0):6.0f} MB {r['error'].splitlines()[0] if r['error'] else ''}"
        )
    print(json.dumps({k: v for k, v in summary.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
