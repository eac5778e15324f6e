"""Speed of building a leaderboard (tables + plots + page) from 100,000 run records.

Goal: at most 15 s from the SQLite store on the 2-core CPU machine. Synthetic store: 20
benchmarks x 25 regularizers x 200 seeds = 100,000 runs, 10 metric rows each (1,000,000 rows)
and 3,000,000 reliability bins. Run: `pytest benchmarks/bench_leaderboard.py --benchmark-only`,
`python benchmarks/bench_leaderboard.py` for a one-shot timing, or
`python benchmarks/bench_leaderboard.py --stages` for the SQLite path stage by stage (read,
aggregate, plots, files) in wall and CPU seconds, with the load average: on a shared machine
compare CPU seconds, which other processes stretch far less than wall time.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from report_fixtures import default_regularizers, make_frames  # noqa: E402

from regbench.report import build_leaderboard  # noqa: E402

SHAPE = {"n_benchmarks": 20, "regularizers": default_regularizers(25), "seeds": 200}


@pytest.fixture(scope="module")
def store():
    frames = make_frames(**SHAPE)
    assert len(frames[0]) == 100_000
    return frames


def test_build_leaderboard_100k_runs(benchmark, store, tmp_path):
    import seaborn  # noqa: F401  (a one-time 1-3 s import is not part of a rebuild)

    benchmark.extra_info["hardware"] = f"{platform.processor() or platform.machine()}, cpu"
    lb = benchmark.pedantic(build_leaderboard, args=(*store, tmp_path), rounds=3, iterations=1)
    assert len(lb.main) == 25 and (tmp_path / "index.html").exists()


def write_store(path, runs, metrics, reliability, suite: str) -> None:
    """Bulk-load synthetic frames into a real regbench SQLite store (schema of regbench.store)."""
    import sqlite3

    from regbench.store import Store

    Store(path).close()
    db = sqlite3.connect(path)
    cols = [r[1] for r in db.execute("PRAGMA table_info(runs)")]
    r = (
        runs.astype(object)
        .where(runs.notna(), None)
        .assign(
            shift_kind="covariate",
            spec="{}",
            curves="{}",
            timings="{}",
            env="{}",
            fingerprint="f",
            created_at=0.0,
            submission=runs["submission"].astype(int),
        )
    )
    db.executemany(
        f"INSERT INTO runs ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})",
        r[cols].itertuples(index=False, name=None),
    )
    m = metrics[["run_key", "split", "family", "shift", "severity", "metric", "value", "n"]].astype(object)
    m = m.where(m.notna(), None)  # pandas NA → SQL NULL
    db.executemany("INSERT INTO metrics VALUES (?,?,?,?,?,?,?,?)", m.itertuples(index=False, name=None))
    rel = reliability.sort_values(["run_key", "split", "bin"]).groupby(["run_key", "split"], sort=False)
    db.executemany(
        "INSERT INTO reliability VALUES (?,?,?,?,?)",
        (
            (key, split, *(g[c].to_numpy("float64").tobytes() for c in ("confidence", "accuracy", "count")))
            for (key, split), g in rel
        ),
    )
    db.executemany(
        "INSERT INTO suite_runs VALUES (?,?,?,?,?)",
        runs[["run_key", "benchmark", "regularizer", "seed"]]
        .assign(suite=suite)[["suite", "run_key", "benchmark", "regularizer", "seed"]]
        .itertuples(index=False, name=None),
    )
    db.commit()
    db.close()


@pytest.fixture(scope="module")
def sqlite_store(store, tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "s.sqlite"
    write_store(path, store[0], store[1], store[2], store[3]["name"])
    return path, store[3]


def test_leaderboard_from_sqlite_100k_runs(benchmark, sqlite_store, tmp_path):
    """The whole `regbench leaderboard` path: read the SQLite store, aggregate, tables, plots, page."""
    from regbench.store import Store

    path, suite = sqlite_store

    def build():
        runs, metrics, reliability = Store(path).frames(suite["name"])
        return build_leaderboard(runs, metrics, reliability, suite, tmp_path)

    lb = benchmark.pedantic(build, rounds=2, iterations=1)
    assert len(lb.main) == 25
    # once more, stage by stage, wall and this process's CPU seconds (the CPU figure is the
    # one to compare on a loaded machine: other processes stretch wall time, not CPU time)
    for stage, seconds in stage_times(path, suite, tmp_path).items():
        benchmark.extra_info[stage] = seconds


def stage_times(path, suite: dict, out) -> dict[str, str]:
    """{stage: "wall s / cpu s"} for read, aggregate, plots and the written files of one build."""
    from regbench.report.render import exports, readme, tex
    from regbench.report.render.html import write_site
    from regbench.report.render.plots import plot_all
    from regbench.report.table.aggregate import aggregate
    from regbench.store import Store

    out = Path(out)
    marks = [("start", time.perf_counter(), time.process_time())]

    def mark(stage):
        marks.append((stage, time.perf_counter(), time.process_time()))

    runs, metrics, reliability = Store(path).frames(suite["name"])
    mark("read store")
    lb = aggregate(runs, metrics, suite)
    mark("aggregate + bootstrap")
    made, _ = plot_all(lb, metrics, reliability, out)
    mark("plots")
    readme.write_markdown(lb, out / "README.md", made)
    exports.write_csv(lb, out / "leaderboard.csv")
    exports.write_json(lb, out / "leaderboard.json")
    tex.write_tex(lb, out / "leaderboard.tex")
    write_site(lb, out / "index.html", made)
    mark("tables + page")
    times = {s: f"{w - w0:.2f} s wall / {c - c0:.2f} s cpu" for (_, w0, c0), (s, w, c) in zip(marks, marks[1:])}
    (_, w0, c0), (_, w, c) = marks[0], marks[-1]
    return times | {"total": f"{w - w0:.2f} s wall / {c - c0:.2f} s cpu"}


if __name__ == "__main__":
    import tempfile

    if "--stages" in sys.argv:  # `python benchmarks/bench_leaderboard.py --stages`: the SQLite path, by stage
        import seaborn  # noqa: F401  (imported once per process, not part of a build)

        frames = make_frames(**SHAPE)
        with tempfile.TemporaryDirectory() as tmp:
            write_store(Path(tmp) / "s.sqlite", *frames[:3], frames[3]["name"])
            load = os.getloadavg()
            for stage, took in stage_times(Path(tmp) / "s.sqlite", frames[3], tmp).items():
                print(f"{stage:>22}: {took}")
            print(
                f"{'load average':>22}: {load[0]:.1f} before, {os.getloadavg()[0]:.1f} after ({os.cpu_count()} cores)"
            )
        sys.exit(0)
    t0 = time.perf_counter()
    frames = make_frames(**SHAPE)
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        build_leaderboard(*frames, out)  # cold: includes importing seaborn/matplotlib
        t2 = time.perf_counter()
        build_leaderboard(*frames, out)
        t3 = time.perf_counter()
        build_leaderboard(*frames, out, plots=False)
        t4 = time.perf_counter()
    print(
        f"generate {t1 - t0:.1f} s | build cold {t2 - t1:.1f} s | build warm {t3 - t2:.1f} s | "
        f"without plots {t4 - t3:.1f} s ({platform.machine()}, CPU)"
    )
