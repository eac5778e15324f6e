"""The wheel carries what a user needs: `pip install regbench-*.whl` then `regbench run smoke`
works from any directory, outside the checkout (suites are package data)."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

from regbench.version import __version__


def test_a_built_wheel_runs_the_smoke_suite_outside_the_checkout(tmp_path):
    repo = Path(__file__).resolve().parent.parent
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(repo)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = dist.glob("regbench-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    site = next((env_dir / "lib").glob("python*/site-packages"))
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    # the dependencies (torch, pandas, …) come from this test's environment; a plain path entry,
    # so that environment's editable install of the checkout is not seen
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp_path / "elsewhere"
    work.mkdir()
    py = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # nothing may point back at the checkout
    run = lambda *a: subprocess.run(
        [str(py), "-m", "regbench.cli", *a], cwd=work, capture_output=True, text=True, env=env
    )
    where = run("--version")
    assert where.returncode == 0 and where.stdout.strip() == f"regbench {__version__}"
    origin = subprocess.run(
        [str(py), "-c", "import regbench; print(regbench.__file__)"], cwd=work, capture_output=True, text=True, env=env
    )
    assert str(site) in origin.stdout, origin.stdout + origin.stderr  # the wheel, not the checkout
    listed = run("list", "suites")
    assert listed.returncode == 0 and "smoke" in listed.stdout and "ood" in listed.stdout, listed.stderr
    out = run("run", "smoke", "--store", str(work / "store.sqlite"), "--workers", "1", "--device", "cpu")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "runs planned" in out.stdout and (work / "store.sqlite").exists()
