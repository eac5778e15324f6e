"""regbench.load_runs (results as a tidy DataFrame) and regbench.get_benchmark (splits as tensors)."""

import pytest
import torch
import yaml
from conftest import tiny_suite

import regbench
from regbench.cli import main
from regbench.registry import UserError


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    suite = root / "tiny.yaml"
    suite.write_text(yaml.safe_dump(tiny_suite(), sort_keys=False))
    store = root / "store.sqlite"
    assert main(["run", str(suite), "--store", str(store), "--workers", "1", "--no-progress"]) == 0
    return suite, store


def test_load_runs_is_tidy_with_metadata(stored):
    suite, store = stored
    df = regbench.load_runs(store, suite="tiny")
    for col in ("run_key", "benchmark", "regularizer", "seed", "status", "split", "metric", "value"):
        assert col in df.columns
    assert not df.duplicated(["run_key", "split", "metric"]).any()  # one row per run × split × metric
    assert df["run_key"].nunique() == 4 and set(df["regularizer"]) == {"erm", "label_smoothing"}
    assert {"test_id", "run"} <= set(df["split"]) and any(s.startswith("ood/") for s in df["split"])
    # the same number the store holds, reachable with plain pandas
    acc = df[(df["split"] == "test_id") & (df["metric"] == "accuracy")].groupby("regularizer")["value"].mean()
    assert 0.1 < acc["erm"] <= 1.0
    cpu = df[df["metric"] == "train_cpu_seconds"]
    assert len(cpu) == 4 and (cpu["value"] > 0).all()
    assert len(regbench.load_runs(store)) == len(df)  # the store holds only this suite


def test_load_runs_bad_input(stored, tmp_path):
    _, store = stored
    with pytest.raises(UserError, match="no runs of suite 'nope'.*tiny"):
        regbench.load_runs(store, suite="nope")
    with pytest.raises(UserError, match="no such store"):
        regbench.load_runs(tmp_path / "missing.sqlite")
    assert not (tmp_path / "missing.sqlite").exists()


def test_get_benchmark_gives_the_trained_splits(stored):
    suite, _ = stored
    splits = regbench.get_benchmark(suite, "digits-noise")
    assert splits.train.x.dtype == torch.float32 and splits.train.x.ndim == 4
    assert splits.train.y.shape == (splits.train.x.shape[0],) and splits.train.y.dtype == torch.int64
    assert set(splits.ood) == {"gaussian_noise/2", "gaussian_noise/5"}
    assert splits.split_info["gaussian_noise/5"]["severity"] == 5
    again = regbench.get_benchmark(suite, "digits-noise")
    assert torch.equal(again.test_id.x, splits.test_id.x)  # deterministic: the same data every time
    with pytest.raises(UserError, match="Did you mean: digits-noise"):
        regbench.get_benchmark(suite, "digits-nois")
