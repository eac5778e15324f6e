"""leaderboard.csv and leaderboard.json: the machine-readable leaderboard.

CSV and JSON carry the unrounded numbers (to 6 decimals, ``display.stable_number``) with
their interval and n, where README.md, the page and the terminal show the rounded
"mean [lo, hi]" text.
"""

from __future__ import annotations

import math

import json
from pathlib import Path

import pandas as pd

from regbench.report.render.escape import csv_frame
from regbench.report.render.display import benchmark_frames, stable_number, table_columns
from regbench.report.table.aggregate import Leaderboard

FORMAT_VERSION = 1


def _flat_row(lb: Leaderboard, rec: dict, scope: str, bench: str) -> dict:
    out = {
        "scope": scope,
        "benchmark": bench,
        "rank": stable_number(rec["rank"]),  # the best rank the paired tests allow
        "rank_hi": stable_number(rec.get("rank_hi")),  # the worst
        "tier": rec.get("tier") or "",  # letters: rows sharing one are not separated
        "regularizer": rec["regularizer"],
        "kind": rec.get("kind"),
        "submission": bool(rec.get("submission")),
        "not_applicable": rec.get("not_applicable") or None,  # why the pair cannot run; its numbers are null
        "smallest_group": stable_number(rec.get("smallest_group")),  # over the OOD splits; worst-group needs >= 20
    }
    for c in table_columns(lb, scope):
        for suf in ("", "_lo", "_hi", "_n"):
            out[c.key + suf] = stable_number(rec[c.key + suf])
    for k in ("seeds", "seeds_max", "short_seeds", "failed", "diverged", "collapsed"):
        out[k] = stable_number(rec[k])
    return out


def write_csv(lb: Leaderboard, path: Path) -> None:
    rows = [_flat_row(lb, r, "suite", "") for r in lb.main.to_dict("records")]
    for bench, grp in benchmark_frames(lb):
        rows += [_flat_row(lb, r, "benchmark", bench) for r in grp.to_dict("records")]
    # labels come from suites: no cell may be a spreadsheet formula
    csv_frame(pd.DataFrame(rows)).to_csv(path, index=False, lineterminator="\n")


def _json_row(lb: Leaderboard, rec: dict, scope: str) -> dict:
    flat = _flat_row(lb, rec, scope, "")
    out = {
        k: flat[k]
        for k in (
            "rank",
            "rank_hi",
            "tier",
            "regularizer",
            "kind",
            "submission",
            "not_applicable",
            "smallest_group",
            "seeds",
            "seeds_max",
            "short_seeds",
            "failed",
            "diverged",
            "collapsed",
        )
    }
    if scope == "suite":
        out["params"] = json.loads(rec["params"]) if isinstance(rec.get("params"), str) and rec["params"] else None
    out["metrics"] = {
        c.key: {"mean": flat[c.key], "lo": flat[c.key + "_lo"], "hi": flat[c.key + "_hi"], "n": flat[c.key + "_n"]}
        for c in table_columns(lb, scope)
    }
    return out


def _rest(res: dict) -> dict:
    five = res.get("mdd_5_seeds")
    at_five = {"minimum_detectable_difference_at_5_seeds": stable_number(five)} if _known(five) else {}
    return {"seeds": int(res["seeds"]), "per_image": bool(res["per_image"]), **at_five}


def _known(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def write_json(lb: Leaderboard, path: Path) -> None:
    doc = {
        "format_version": FORMAT_VERSION,
        "suite": lb.suite,
        "primary_metric": lb.primary.key,
        "caveats": list(lb.caveats),
        "confidence_level": lb.level,
        "bootstrap_reps": lb.reps,
        "columns": [
            {
                "key": c.key,
                "label": c.label,
                "higher_is_better": c.higher_is_better,
                "scale": c.scale,
                "digits": c.digits,
                "suite_only": c.suite_only,
                "help": c.help,
            }
            for c in lb.columns
        ],
        "main": [_json_row(lb, r, "suite") for r in lb.main.to_dict("records")],
        "benchmarks": [
            {"benchmark": b, "rows": [_json_row(lb, r, "benchmark") for r in g.to_dict("records")]}
            for b, g in benchmark_frames(lb)
        ],
        "fits": lb.fits,
        # per benchmark: the primary-metric difference found with 80% power at its seeds (fraction)
        "resolution": {
            b: {"minimum_detectable_difference": stable_number(r["mdd"]), "power": 0.8, "alpha": 0.05, **_rest(r)}
            for b, r in lb.resolution.items()
        },
        "notes": list(lb.notes),
    }
    path.write_text(
        json.dumps(doc, indent=1, sort_keys=False, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8"
    )
