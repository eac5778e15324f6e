"""Soak: start `regbench run SUITE`, SIGKILL it at a random moment, rerun it; repeat (issue 12).

Each cycle uses a fresh store (the split cache stays warm). The kill lands a random 0–3 s
after the k-th run is recorded, k uniform in 0…11 (k = 0: once the runs are leased). After the kill it records which
runs the store held; the rerun must then report exactly the missing runs as "to do", train
only those, and leave every planned run recorded ``ok`` once, no lease behind and
``PRAGMA integrity_check`` = ok. Counted per cycle:

- ``retrained``: runs recorded before the kill that the rerun trained again (must be 0);
- ``lost``: runs recorded before the kill that are missing or changed afterwards (must be 0).

    PYTHONPATH=. python benchmarks/soak_kill.py --cycles 20 --suite smoke --out /tmp/soak

Prints one line per cycle and a JSON summary (also written to ``OUT/summary.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path


def rows(store: Path, sql: str) -> list[tuple]:
    if not store.exists():
        return []
    with sqlite3.connect(store, timeout=60) as db:
        try:
            return db.execute(sql).fetchall()
        except sqlite3.OperationalError:  # killed before the schema was written
            return []


def cycle(i: int, suite: str, out: Path, env: dict, rng: random.Random) -> dict:
    store = out / f"cycle{i:02d}" / "store.sqlite"
    store.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "regbench.cli", "run", suite, "--store", str(store), "--no-progress"]
    # the random moment: after the k-th run is recorded (k = 0: once the runs are leased),
    # plus up to 3 s, so kills land at every stage of the suite, not only while it starts
    k, extra = rng.randint(0, 11), rng.uniform(0.0, 3.0)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while proc.poll() is None:
        time.sleep(0.1)
        leased = rows(store, "SELECT COUNT(*) FROM leases")
        recorded = rows(store, "SELECT COUNT(*) FROM runs")
        if (leased and leased[0][0]) or (recorded and recorded[0][0]):
            if (recorded[0][0] if recorded else 0) >= k:
                break
    time.sleep(extra)
    finished_first = proc.poll() is not None
    if not finished_first:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    delay = time.monotonic() - t0
    before = dict(rows(store, "SELECT run_key, created_at FROM runs WHERE status IN ('ok', 'diverged')"))
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    after = dict(rows(store, "SELECT run_key, created_at FROM runs"))
    planned = int(rerun.stdout.split(" runs planned")[0].rsplit(" ", 1)[-1])
    to_do = int(rerun.stdout.split(" runs to do")[0].rsplit(" ", 1)[-1])
    trained = int(rerun.stdout.split("trained ")[1].split()[0]) if "trained " in rerun.stdout else 0
    statuses = rows(store, "SELECT status, COUNT(*) FROM runs GROUP BY status")
    reclaimed = (
        rerun.stdout.split(" runs reclaimed")[0].rsplit("\n", 1)[-1] if " runs reclaimed" in rerun.stdout else "0"
    )
    return {
        "cycle": i,
        "kill_after_s": round(delay, 2),
        "kill_after_records": k,
        "finished_before_kill": finished_first,
        "recorded_before_kill": len(before),
        "rerun_to_do": to_do,
        "rerun_trained": trained,
        "rerun_reclaimed": int(reclaimed),
        "retrained": len(before) - (planned - to_do),  # recorded runs the rerun did not reuse
        "lost": sum(1 for k, t in before.items() if after.get(k) != t),
        "recorded_after": len(after),
        "planned": planned,
        "statuses": dict(statuses),
        "leases_left": rows(store, "SELECT COUNT(*) FROM leases")[0][0],
        "integrity": rows(store, "PRAGMA integrity_check")[0][0],
        "rerun_exit": rerun.returncode,
        "seconds": round(time.monotonic() - t0, 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=20)
    ap.add_argument("--suite", default="smoke")
    ap.add_argument("--out", type=Path, default=Path("/tmp/regbench-soak"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    repo = str(Path(__file__).resolve().parent.parent)
    env = {
        **os.environ,
        "PYTHONPATH": repo + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "REGBENCH_CACHE": os.environ.get("REGBENCH_CACHE", str(args.out / "cache")),
    }
    rng = random.Random(args.seed)
    t0 = time.monotonic()
    results = []
    for i in range(args.cycles):
        r = cycle(i, args.suite, args.out, env, rng)
        results.append(r)
        print(json.dumps(r), flush=True)
    summary = {
        "cycles": len(results),
        "suite": args.suite,
        "killed_mid_suite": sum(
            not r["finished_before_kill"] and r["recorded_before_kill"] < r["planned"] for r in results
        ),
        "runs_recorded_before_kills": sum(r["recorded_before_kill"] for r in results),
        "retrained": sum(r["retrained"] for r in results),
        "lost": sum(r["lost"] for r in results),
        "incomplete_after_rerun": sum(r["recorded_after"] != r["planned"] for r in results),
        "leases_left": sum(r["leases_left"] for r in results),
        "leases_reclaimed": sum(r["rerun_reclaimed"] for r in results),
        "integrity_not_ok": sum(r["integrity"] != "ok" for r in results),
        "rerun_nonzero_exit": sum(r["rerun_exit"] != 0 for r in results),
        "seconds": round(time.monotonic() - t0, 1),
    }
    (args.out / "summary.json").write_text(json.dumps({"summary": summary, "cycles": results}, indent=1))
    print(json.dumps(summary))
    bad = summary["retrained"] + summary["lost"] + summary["incomplete_after_rerun"] + summary["integrity_not_ok"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
