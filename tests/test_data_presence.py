"""Real data is easy to point at: the data root, every missing dataset at once with real paths,
`validate`'s warning and `data status` (file checks only)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import fixtures_real as fx  # tests/ is on sys.path
import pytest

from regbench.config import read_suite_file, suite_path
from regbench.data.errors import DatasetMissingError, data_root
from regbench.data.presence import check_suite_data, suite_needs

REPO = Path(__file__).resolve().parents[1]


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": str(REPO), **env}
    return subprocess.run([sys.executable, "-m", "regbench.cli", *args], capture_output=True, text=True, env=full)


def test_data_root_follows_regbench_data_then_the_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("REGBENCH_DATA", raising=False)
    monkeypatch.setenv("REGBENCH_CACHE", str(tmp_path / "cache"))
    assert data_root() == tmp_path / "cache" / "data"
    monkeypatch.setenv("REGBENCH_CACHE", "off")  # no disk cache: the home default
    assert data_root() == Path("~/.cache/regbench/data").expanduser()
    monkeypatch.setenv("REGBENCH_DATA", str(tmp_path / "mine"))
    assert data_root() == tmp_path / "mine"
    assert data_root(tmp_path / "given") == tmp_path / "given"


def test_every_missing_dataset_of_a_suite_at_once_with_real_paths(monkeypatch, tmp_path):
    monkeypatch.setenv("REGBENCH_DATA", str(tmp_path))
    with pytest.raises(DatasetMissingError) as err:
        check_suite_data(read_suite_file(suite_path("wilds")).benchmarks)
    text = str(err.value)
    assert "\n" not in text and "<version>" not in text
    assert str(tmp_path / "waterbirds_v1.0" / "RELEASE_v1.0.txt") in text
    assert str(tmp_path / "camelyon17_v1.0" / "RELEASE_v1.0.txt") in text
    assert "REGBENCH_DATA" in text


def test_present_data_is_not_reported(monkeypatch, tmp_path):
    monkeypatch.setenv("REGBENCH_DATA", str(tmp_path))
    fx.make_cifar10(tmp_path)
    needs = suite_needs(read_suite_file(suite_path("cifar10c")).benchmarks)
    assert needs and all(n.present for _, n in needs)
    check_suite_data(read_suite_file(suite_path("cifar10c")).benchmarks)  # raises nothing


@pytest.mark.parametrize("suite", ["cifar10c", "wilds"])
def test_validate_warns_when_the_data_is_absent(suite, tmp_path):
    out = cli("validate", suite, env={"REGBENCH_DATA": str(tmp_path), "REGBENCH_CACHE": str(tmp_path / "c")})
    assert out.returncode == 0, out.stderr
    assert ": ok" in out.stdout
    assert "warning: data missing" in out.stderr and str(tmp_path) in out.stderr


def test_validate_of_an_offline_suite_warns_nothing(tmp_path):
    out = cli("validate", "smoke", env={"REGBENCH_DATA": str(tmp_path), "REGBENCH_CACHE": str(tmp_path / "c")})
    assert out.returncode == 0 and "warning" not in out.stderr


def test_data_status_lists_present_and_missing(tmp_path):
    fx.make_cifar10(tmp_path)
    out = cli("data", "status", env={"REGBENCH_DATA": str(tmp_path), "REGBENCH_CACHE": str(tmp_path / "c")})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert f"data root: {tmp_path}" in lines
    assert any(line.startswith("present  cifar10  (suite cifar10c)") for line in lines)
    assert any(line.startswith("missing  wilds:waterbirds") for line in lines)
    assert f"  {tmp_path / 'camelyon17_v1.0' / 'RELEASE_v1.0.txt'}" in lines


def test_data_prepare_names_every_missing_dataset(tmp_path):
    out = cli("data", "prepare", "wilds", env={"REGBENCH_DATA": str(tmp_path), "REGBENCH_CACHE": str(tmp_path / "c")})
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1 and "2 dataset(s) missing" in out.stderr
    assert "waterbirds_v1.0" in out.stderr and "camelyon17_v1.0" in out.stderr
