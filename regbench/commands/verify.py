"""``regbench verify leaderboard/<suite>``: retrain a sample of a published leaderboard's runs
from a cold store and say, per run, whether its numbers come back identical.

Reads the publication bundle (``manifest.json``, ``runs.jsonl.gz``, ``suite.yaml``:
report/render/bundle.py), re-plans the suite from ``suite.yaml``, trains the sampled runs into
a store in a temporary folder with the manifest's device and thread count, and compares every
non-timing metric. Exit status: 0 only when every sampled run is identical; 1 otherwise (or
when the bundle is missing or unusable).

The default sample is seed 0 (the suite's first seed) of every benchmark for three regularizer
rows: the baseline (``erm``, else the suite's first row) and the first and last of the other
rows in the suite's order, so the cheapest and the most recently added kind of row are both
checked. ``--all`` retrains every suite row's run. ``compare`` submissions are not in
``suite.yaml`` and are not retrained.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from pathlib import Path

from regbench.commands.options import positive_int
from regbench.config import ConfigError


def add_parser(sub) -> None:
    v = sub.add_parser("verify", help="retrain a published leaderboard's runs from scratch and compare their numbers")
    v.add_argument("bundle", help="a leaderboard folder with its publication bundle, e.g. leaderboard/ood")
    v.add_argument("--all", action="store_true", help="retrain every run, not the default sample")
    v.add_argument("--workers", type=positive_int, default=None, help="worker processes (default: one per core)")
    v.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> int:
    bundle = Path(args.bundle)
    manifest, lines = read_bundle(bundle)
    # imported here: the harness imports torch, which `regbench --help` should not wait for
    from regbench.train.execution import prepare_process

    prepare_process()
    from regbench.harness.plan import load_suite

    plan = load_suite(bundle / "suite.yaml")
    suite_rows = [r for r in lines if not r.get("submission")]
    sample = suite_rows if args.all else default_sample(suite_rows, plan)
    what = (
        "every run"
        if args.all
        else "seed {} of every benchmark for {}".format(
            min(plan.suite.seeds),
            ", ".join(r.display for r in plan.suite.regularizers if r.display in {x["regularizer"] for x in sample}),
        )
    )
    print(f"{manifest.get('suite', bundle.name)}: retraining {len(sample)} of {len(lines)} published runs ({what})")
    skipped = len(lines) - len(suite_rows)
    if skipped:
        print(f"({skipped} compare submissions are not in suite.yaml: not retrained)")
    sys.stdout.flush()  # before the workers' output
    trained = retrain(plan, sample, manifest, args.workers, progress=not args.no_progress and sys.stderr.isatty())
    verdicts = [compare_run(r, trained.get(run_name(r))) for r in sample]
    for line in verdicts:
        print(line[1])
    counts = {v: sum(1 for k, _ in verdicts if k == v) for v in ("identical", "different", "missing")}
    print(", ".join(f"{n} {v}" for v, n in counts.items()) + f" (of {len(verdicts)})")
    return 0 if counts["identical"] == len(verdicts) else 1


def read_bundle(bundle: Path) -> tuple[dict, list[dict]]:
    """(manifest, run lines) of a leaderboard folder; a ConfigError naming what is missing."""
    from regbench.report.render.bundle import BUNDLE_FILES, read_runs

    missing = [name for name in BUNDLE_FILES if name != "config.json" and not (bundle / name).is_file()]
    if missing:
        raise ConfigError(
            f"{bundle} has no publication bundle ({', '.join(missing)} missing): rebuild it with "
            "`regbench leaderboard SUITE --out " + str(bundle) + "` from the store that holds its runs"
        )
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    return manifest, read_runs(bundle / "runs.jsonl.gz")


def run_name(line: dict) -> tuple[str, str, int]:
    return line["benchmark"], line["regularizer"], int(line["seed"])


def default_sample(lines: list[dict], plan) -> list[dict]:
    """Seed 0 (the first seed) of every benchmark for the baseline row and the first and last
    other rows, in the suite's order (see the module's docstring)."""
    rows = [r.display for r in plan.suite.regularizers]
    base = "erm" if "erm" in rows else rows[0]
    others = [r for r in rows if r != base]
    chosen = {base, *others[:1], *others[-1:]}
    seed = min(plan.suite.seeds)
    return [r for r in lines if r["regularizer"] in chosen and int(r["seed"]) == seed]


def retrain(plan, sample: list[dict], manifest: dict, workers: int | None, progress: bool) -> dict:
    """Train the planned runs of ``sample`` into a fresh store (temporary folder) with the
    manifest's device type and thread count; returns (benchmark, regularizer, seed) → record."""
    from dataclasses import replace

    from regbench.harness.run_plan import run_plan
    from regbench.store import Store

    wanted = {run_name(r) for r in sample}
    runs = tuple(r for r in plan.runs if (r.benchmark.spec.name, r.regularizer.display, r.seed) in wanted)
    trained = manifest.get("trained_with", {})
    with tempfile.TemporaryDirectory(prefix="regbench-verify-") as tmp:
        store = Store(Path(tmp) / "verify.sqlite")
        if runs:
            run_plan(
                replace(plan, runs=runs),
                store,
                workers=workers,
                device=device_of(trained.get("device")),
                threads=single(trained.get("threads"), "threads"),
                progress=progress,
            )
        records = store.records([r.run_key for r in runs])
        by_key = {rec["run_key"]: rec for rec in records}
        out = {(r.benchmark.spec.name, r.regularizer.display, r.seed): by_key.get(r.run_key) for r in runs}
        store.close()
    return {k: v for k, v in out.items() if v is not None}


def device_of(recorded) -> str:
    """The device to retrain on: the recorded one's type (``cuda:1`` → ``cuda``; precision
    follows from it: fp32 on CPU, bf16 on CUDA), CPU when unrecorded."""
    device = single(recorded, "device")
    return str(device).split(":")[0] if device else "cpu"


def single(value, what: str):
    """The one value a manifest records for all runs; a ConfigError when the runs disagree."""
    if isinstance(value, list):
        raise ConfigError(f"the published runs were trained with different {what} ({value}): verify them apart")
    return value


def compare_run(published: dict, record: dict | None) -> tuple[str, str]:
    """(verdict, printed line): identical, different (the largest non-timing difference and its
    metric) or missing (not planned from suite.yaml, or not recorded by the retraining)."""
    name = "{}/{}/seed{}".format(*run_name(published))
    if record is None:
        return "missing", f"missing    {name}: not retrained (no such run in suite.yaml's plan, or it was not recorded)"
    if record["status"] != published["status"]:
        return "different", f"different  {name}: status {record['status']}, published {published['status']}"
    worst = largest_difference(published["metrics"], record["metrics"])
    if worst is None:
        return "identical", f"identical  {name}"
    diff, metric, old, new = worst
    return "different", f"different  {name}: {metric} {new} (published {old}), difference {diff:.3g}"


def largest_difference(published: dict, rerun: dict) -> tuple[float, str, object, object] | None:
    """The largest |published − rerun| over every published non-timing (split, metric), as
    (difference, "split/metric", published, rerun); None when every value is identical (NaN
    equals NaN). A published metric the rerun lacks counts as an infinite difference. A metric
    only the rerun has is not a published number (a newer regbench records it, e.g. the top
    Hessian eigenvalue of erm's runs), so it is not compared."""
    from regbench.report.render.bundle import TIMING_METRICS

    worst = None
    for split in sorted(published):
        old_split, new_split = published[split], rerun.get(split, {})
        for metric in sorted(old_split):
            if metric in TIMING_METRICS:
                continue
            old, new = number(old_split.get(metric, "absent")), number(new_split.get(metric, "absent"))
            if old == new or (old is not None and new is not None and math.isnan(old) and math.isnan(new)):
                continue
            diff = math.inf if old is None or new is None else abs(old - new)
            if worst is None or diff > worst[0]:
                shown = lambda v: "absent" if v is None else v  # noqa: E731
                worst = (diff, f"{split}/{metric}", shown(old), shown(new))
    return worst


def number(value) -> float | None:
    """A metric value as a float (a null is NaN); None when the metric is absent."""
    if value == "absent":
        return None
    return math.nan if value is None else float(value)
