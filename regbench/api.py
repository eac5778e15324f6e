"""Python entry points mirroring the CLI, and the results and data as Python objects."""

from __future__ import annotations

from pathlib import Path

from regbench.harness.plan import load_suite
from regbench.harness.run_plan import run_plan
from regbench.store import DEFAULT_STORE, Store, StoreError


def run_suite(
    suite: str | Path,
    store: str | Path = DEFAULT_STORE,
    workers: int | None = None,
    device: str = "cpu",
    progress: bool = False,
) -> dict[str, int]:
    """Plan ``suite`` (name or path) and train every run missing from ``store``; return counts."""
    return run_plan(load_suite(suite), Store(store), workers=workers, device=device, progress=progress)


def load_runs(store: str | Path | Store = DEFAULT_STORE, suite: str | None = None):
    """Every recorded number as a tidy pandas DataFrame: one row per run × split × metric.

    Columns: the run's metadata (``run_key, suite, benchmark, regularizer,
    regularizer_kind, params, seed, status, error, submission``) then ``split, family,
    shift, severity, metric, value, n``. With ``suite``, the rows are that suite's runs,
    named as the suite names them (planned runs not yet trained are left out). A run
    without any metric (a failed run) keeps one row with ``metric`` NaN, so failures are
    never silently dropped. Run-level numbers (``train_seconds``, ``train_cpu_seconds``,
    ``samples_per_second``, …) have ``split == "run"``.
    """
    from regbench.report.table.columns import METRIC_COLUMNS, RUN_COLUMNS

    if not isinstance(store, Store) and not Path(store).exists():  # Store() would create it
        raise StoreError(f"{store}: no such store (run `regbench run SUITE --store {store}` first)")
    st = store if isinstance(store, Store) else Store(store)
    runs, metrics, _ = st.frames(suite)
    runs = runs[runs["status"] != "missing"][RUN_COLUMNS]
    if suite is not None and runs.empty:
        known = ", ".join(st.suites()) or "none"
        raise StoreError(f"{st.path}: no runs of suite '{suite}' (suites in this store: {known})")
    tidy = runs.merge(metrics[METRIC_COLUMNS], on="run_key", how="left")
    return tidy.sort_values(
        ["suite", "benchmark", "regularizer", "seed", "split", "metric"], kind="stable"
    ).reset_index(drop=True)


def get_benchmark(suite: str | Path, name: str):
    """The prepared splits of benchmark ``name`` of ``suite``, exactly as regbench trains on them.

    Returns a :class:`regbench.data.base.Splits`: ``train``, ``val``, ``test_id`` and
    ``ood`` (name → split) are ``Examples`` with ``x`` (N, C, H, W) float32 images in
    [0, 1] (or (N, L) int64 token ids), ``y`` (N,) int64 labels (or (N, T) target tokens)
    and ``meta`` (per-example factors, each (N,)); ``info`` describes the task and
    ``split_info`` each OOD split (shift, severity, family). Uses and fills the same split
    cache as ``regbench run``.
    """
    import difflib

    from regbench.config import ConfigError
    from regbench.harness.plan import load_suite
    from regbench.harness.run_one import build_splits

    plan = load_suite(suite)
    benches = {r.benchmark.spec.name: r.benchmark for r in plan.runs}
    if name not in benches:
        close = difflib.get_close_matches(name, list(benches), n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ConfigError(f"suite '{plan.suite.name}' has no benchmark '{name}'.{hint} Available: {', '.join(benches)}")
    return build_splits(benches[name])
