"""Shared helpers of the scaling tests (checkpoints, executors): tiny suites and record comparison."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import yaml

# per-run timing rows differ between any two executions; everything else must match exactly
TIMING_METRICS = ("train_seconds", "train_cpu_seconds", "eval_seconds", "samples_per_second", "peak_memory_mb")


def write_suite(tmp_path: Path, name: str = "tiny", seeds=(0,), epochs: int = 3, regularizers=None, **extra) -> Path:
    """A digits + mlp suite that trains in about a second per run."""
    suite = {
        "name": name,
        "seeds": list(seeds),
        "train": {"epochs": epochs, "batch_size": 64, "lr": 3e-3, "schedule": "cosine"},
        "benchmarks": [
            {
                "name": "d",
                "dataset": "digits",
                "model": "mlp",
                "model_args": {"width": 32, "dropout": 0.1},
                "shift": {"kind": "covariate", "corruptions": ["gaussian_noise"], "severities": [3]},
            }
        ],
        "regularizers": regularizers
        or [{"stack": ["mixup", {"name": "early_stopping", "patience": 10}], "label": "mix+es"}],
        **extra,
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


def metric_rows(store: Path) -> list[tuple]:
    """Every non-timing metric row, every learning curve and every prediction, sorted."""
    db = sqlite3.connect(store)
    rows = db.execute(
        "SELECT run_key, split, family, shift, severity, metric, value, n FROM metrics "
        f"WHERE metric NOT IN ({','.join('?' * len(TIMING_METRICS))}) ORDER BY run_key, split, metric",
        TIMING_METRICS,
    ).fetchall()
    rows += db.execute("SELECT run_key, 'curves', curves FROM runs ORDER BY run_key").fetchall()
    rows += db.execute("SELECT run_key, split, labels FROM predictions ORDER BY run_key, split").fetchall()
    db.close()
    return rows


def statuses(store: Path) -> dict[str, str]:
    """run_key → status ({} when the store was never created)."""
    if not Path(store).exists():
        return {}
    db = sqlite3.connect(store)
    out = dict(db.execute("SELECT run_key, status FROM runs").fetchall())
    db.close()
    return out


def reference_store(tmp: Path, seeds=(0, 1)) -> tuple[Path, Path]:
    """The tiny suite run by the local executor in this process: (suite path, store path)."""
    from regbench.cli import main

    suite = write_suite(tmp, seeds=seeds)
    store = tmp / "local.sqlite"
    assert main(["run", str(suite), "--store", str(store), "--workers", "1", "--no-progress"]) == 0
    return suite, store
