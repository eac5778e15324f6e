"""The wheel carries what a user needs: `pip install regbench-*.whl` then `regbench run smoke`
works from any directory, outside the checkout. The checkout keeps the shipped suites at its top level
(``suites/``); the wheel carries them inside the package, as ``regbench/suites/`` (setup.py maps them)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

from regbench.version import __version__


def test_a_built_wheel_runs_the_smoke_suite_outside_the_checkout(tmp_path):
    repo = Path(__file__).resolve().parent.parent
    # built from a clean copy: a stale build/ or regbench.egg-info/ in the checkout (its
    # SOURCES.txt lists files to ship) could otherwise put the suites into the wheel on its own
    src = tmp_path / "src"
    build_outputs = ("build", "dist", "*.egg-info", "__pycache__", ".venv", ".cache", ".pytest_cache", ".git")
    shutil.copytree(repo, src, ignore=shutil.ignore_patterns(*build_outputs, "results", "leaderboard"))
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(src)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = dist.glob("regbench-*.whl")
    shipped = sorted(p.name for p in (repo / "suites").glob("*.yaml"))
    assert "smoke.yaml" in shipped and "regularizers.yaml" in shipped
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in shipped if f"regbench/suites/{name}" not in in_wheel]
    assert not missing, f"suites/ files not in the wheel as regbench/suites/<name>: {missing}"
    assert not any(name.startswith("suites/") for name in in_wheel)  # inside the package, not beside it
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
    found = subprocess.run(
        [str(py), "-c", "from regbench.config import SUITES_DIR; print(SUITES_DIR)"],
        cwd=work,
        capture_output=True,
        text=True,
        env=env,
    )
    assert found.stdout.strip() == str(site / "regbench" / "suites"), found.stdout + found.stderr
    listed = run("list", "suites")
    assert listed.returncode == 0 and "smoke" in listed.stdout and "ood" in listed.stdout, listed.stderr
    out = run("run", "smoke", "--store", str(work / "store.sqlite"), "--workers", "1", "--device", "cpu")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "runs planned" in out.stdout and (work / "store.sqlite").exists()
