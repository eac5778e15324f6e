"""``regbench export``: every run record as JSONL, CSV or parquet (one record per run)."""

from __future__ import annotations

import json
import sys

from regbench.commands.options import add_store
from regbench.store import Store


def flat(record: dict) -> dict:
    """A record with metrics flattened to ``metric.<split>.<name>`` columns (for CSV/parquet)."""
    out = {k: v for k, v in record.items() if k != "metrics"}
    for col in ("params", "spec", "curves", "timings", "env"):
        out[col] = json.dumps(out.get(col), sort_keys=True)
    for split, values in sorted(record["metrics"].items()):
        for name, value in sorted(values.items()):
            out[f"metric.{split}.{name}"] = value
    return out


def export(store_path: str, fmt: str, out: str | None, suite: str | None = None) -> None:
    """Write the store's records in ``fmt`` to ``out`` (stdout when None for jsonl/csv)."""
    store = Store(store_path, readonly=True)
    keys = None
    if suite is not None:
        keys = [r[0] for r in store.db.execute("SELECT run_key FROM suite_runs WHERE suite=?", (suite,))]
    records = store.records(keys)
    if fmt == "jsonl":
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
        (open(out, "w") if out else sys.stdout).write(text)
        return
    import pandas as pd

    df = pd.DataFrame([flat(r) for r in records])
    if fmt == "csv":
        from regbench.report.render.escape import csv_frame

        csv_frame(df).to_csv(out or sys.stdout, index=False)  # labels come from suites: never a formula
    else:
        if not out:
            raise SystemExit("error: --out FILE is required for parquet")
        df.to_parquet(out, index=False)


def add_parser(sub) -> None:
    ex = sub.add_parser("export", help="write every run record as JSONL, CSV or parquet")
    ex.add_argument("--format", choices=["jsonl", "csv", "parquet"], default="jsonl")
    ex.add_argument("--out", default=None, help="output file (default: stdout for jsonl/csv)")
    ex.add_argument("--suite", default=None, help="only the runs of this suite")
    add_store(ex)


def run(args) -> int:
    export(args.store, args.format, args.out, args.suite)
    return 0
