"""The publication bundle of a leaderboard (docs/architecture.md, Leaderboard): what a reader
needs to regenerate its numbers and to see how they were made.

- ``runs.jsonl.gz``: one line per run of the suite — its identity, parameters, status, every
  non-timing metric per split, its timings apart, and its ``env`` (no per-image arrays);
- ``manifest.json``: the code revision, library versions, threads, device, precision and the
  commands that trained the runs, the revision the table was built at, and the date;
- ``config.json``: every benchmark's and regularizer row's fully resolved settings;
- ``suite.yaml``: the suite file as it was planned, which ``regbench verify`` re-plans.

Every file is a function of its inputs (gzip without a time stamp, sorted keys, the date of
the newest record rather than of the build), so a rebuild from the same store is
byte-identical. The inputs are plain dicts: nothing here imports torch.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

BUNDLE_FORMAT_VERSION = 1
BUNDLE_FILES = ("runs.jsonl.gz", "manifest.json", "config.json", "suite.yaml")
# the run-level rows that measure the machine, not the method: they differ between any two
# executions of the same run, so they are kept apart and never compared by `regbench verify`
TIMING_METRICS = ("train_seconds", "train_cpu_seconds", "eval_seconds", "samples_per_second", "peak_memory_mb")
# what `manifest.json` reports from the records' env, and under which env key (older records
# have only the short revision, "git")
TRAINED_WITH = {
    "regbench": ("regbench",),
    "git_commit": ("git_commit", "git"),
    "torch": ("torch",),
    "torchvision": ("torchvision",),
    "numpy": ("numpy",),
    "python": ("python",),
    "threads": ("threads",),
    "device": ("device",),
    "precision": ("precision",),
}


def write_bundle(out: Path, runs: pd.DataFrame, metrics: pd.DataFrame, suite: dict, publication: dict) -> dict:
    """Write the four bundle files into ``out``; return {"files": name → path, "manifest", "config"}.

    runs, metrics: the report's frames of the suite (metrics: run_key, split, metric, value, …).
    publication (plain dicts from the command layer): ``suite_yaml`` (the planned file's text),
    ``suite_file`` (its published, relative path), ``config`` (resolved settings, as in
    config.json), ``provenance`` (run_key → {"env", "created_at"}) and ``built_with``
    (regbench version and commit the table is built at, the report's library versions).
    """
    provenance = publication.get("provenance", {})
    lines = run_lines(runs, metrics, provenance)
    manifest = make_manifest(suite, publication, lines, provenance)
    config = publication.get("config", {})
    files = {name: out / name for name in BUNDLE_FILES}
    with open(files["runs.jsonl.gz"], "wb") as raw:
        # no file name or time stamp in the gzip header: the same runs give the same bytes
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
            gz.write("".join(json.dumps(line, sort_keys=True) + "\n" for line in lines).encode())
    files["manifest.json"].write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    files["config.json"].write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    files["suite.yaml"].write_text(publication.get("suite_yaml", ""), encoding="utf-8")
    return {"files": files, "manifest": manifest, "config": config}


def run_lines(runs: pd.DataFrame, metrics: pd.DataFrame, provenance: dict) -> list[dict]:
    """One dict per suite row's run, sorted by (benchmark, regularizer, seed): ``metrics`` is
    split → metric → value (NaN as null) without :data:`TIMING_METRICS`, which join ``timings``."""
    values: dict[str, dict[str, dict[str, float | None]]] = {}
    kept = metrics[~metrics["metric"].isin(TIMING_METRICS)]
    for key, split, metric, value in zip(kept["run_key"], kept["split"], kept["metric"], kept["value"]):
        values.setdefault(key, {}).setdefault(split, {})[metric] = _number(value)
    lines = []
    for rec in runs.to_dict("records"):
        key = rec["run_key"]
        lines.append(
            {
                "run_key": key,
                "benchmark": rec["benchmark"],
                "regularizer": rec["regularizer"],
                "submission": bool(rec.get("submission")),
                "params": _json(rec.get("params")),
                "seed": int(rec["seed"]),
                "status": rec["status"],
                "metrics": values.get(key, {}),
                "timings": _json(rec.get("timings")) or {},
                "env": provenance.get(key, {}).get("env", {}),
            }
        )
    return sorted(lines, key=lambda r: (r["benchmark"], r["regularizer"], r["seed"], r["run_key"]))


def read_runs(path: Path) -> list[dict]:
    """The lines of a ``runs.jsonl.gz`` (as :func:`run_lines` wrote them)."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def make_manifest(suite: dict, publication: dict, lines: list[dict], provenance: dict) -> dict:
    """manifest.json: how the runs were made (from their env) and how the table was built."""
    ordered = sorted(lines, key=lambda r: (provenance.get(r["run_key"], {}).get("created_at") or 0, r["run_key"]))
    envs = [r["env"] for r in ordered]
    trained = {name: _one_or_all(_first_of(e, keys) for e in envs) for name, keys in TRAINED_WITH.items()}
    trained["commands"] = list(dict.fromkeys(e["command"] for e in envs if e.get("command")))
    times = [p["created_at"] for p in provenance.values() if p.get("created_at")]
    return {
        "format_version": BUNDLE_FORMAT_VERSION,
        "suite": suite.get("name", ""),
        "suite_file": publication.get("suite_file"),
        "runs": len(lines),
        "ok": sum(r["status"] == "ok" for r in lines),
        # the day the newest run was recorded: a rebuild of the same records keeps its bytes
        "date": _day(max(times)) if times else None,
        "first_run_date": _day(min(times)) if times else None,
        "trained_with": trained,
        "built_with": publication.get("built_with", {}),
    }


def provenance_line(manifest: dict) -> str:
    """One sentence: which code, libraries, machine settings and command made the runs."""
    t = manifest.get("trained_with", {})
    b = manifest.get("built_with", {})
    libs = ", ".join(f"{k} {_text(t.get(k))}" for k in ("torch", "torchvision", "numpy") if t.get(k))
    threads = t.get("threads")
    machine = ", ".join(
        x
        for x in (
            _text(t.get("device")) if t.get("device") else "",
            _text(t.get("precision")) if t.get("precision") else "",
            f"{_text(threads)} thread{'' if threads == 1 else 's'}" if threads is not None else "",
        )
        if x
    )
    commands = "; ".join(f"`{c}`" for c in t.get("commands", [])) or "an unrecorded command"
    dates = manifest.get("first_run_date"), manifest.get("date")
    when = dates[1] if dates[0] == dates[1] else f"{dates[0]} to {dates[1]}"
    return (
        f"{manifest.get('runs', 0)} runs trained by regbench {_text(t.get('regbench'))} at commit "
        f"{_short(t.get('git_commit'))}" + (f" ({libs}; {machine})" if libs or machine else "") + f" by {commands}, "
        f"recorded {when}; table built at commit {_short(b.get('git_commit'))}."
    )


def benchmark_rows(config: dict) -> tuple[list[str], list[list[str]]]:
    """(header, one row per benchmark): data, model, shift and training, each fully resolved."""
    rows = []
    for b in config.get("benchmarks", []):
        t = b.get("train", {})
        training = [
            f"{t.get('epochs')} epochs",
            f"batch {t.get('batch_size')}",
            f"{t.get('optimizer')} lr {t.get('lr')!r}",
        ]
        if t.get("optimizer") == "sgd":
            training.append(f"momentum {t.get('momentum')!r}")
        training.append(f"{t.get('schedule')} schedule")
        if t.get("label_noise"):
            training.append(f"{t.get('label_noise_kind')} label noise {t.get('label_noise')!r}")
        if t.get("data_resample", "none") != "none":
            training.append(f"{t.get('data_resample')} resampling")
        shift = b.get("shift", {})
        rows.append(
            [
                b.get("name", ""),
                call(b.get("dataset", ""), {**b.get("dataset_args", {}), "data_seed": b.get("data_seed")}),
                call(b.get("model", ""), b.get("model_args", {})),
                call(shift.get("kind", ""), shift.get("params", {})),
                " · ".join(training),
            ]
        )
    return ["benchmark", "data", "model", "shift", "training"], rows


def regularizer_rows(config: dict) -> tuple[list[str], list[list[str]]]:
    """(header, one row per regularizer row): its kind and each stack member's resolved parameters."""
    rows = []
    for r in config.get("regularizers", []):
        stack = " + ".join(call(m.get("name", ""), m.get("params", {})) for m in r.get("stack", []))
        rows.append([r.get("label", ""), r.get("kind", ""), stack])
    return ["regularizer", "kind", "parameters (resolved)"], rows


def call(name: str, args: dict) -> str:
    """``mlp(width=128, depth=2)``: a name and its arguments, compactly; the name alone without any."""
    inner = ", ".join(f"{k}={value_text(v)}" for k, v in args.items())
    return f"{name}({inner})" if inner else str(name)


def value_text(v: Any) -> str:
    """A parameter value as text: floats in their shortest exact form, lists and dicts nested."""
    if isinstance(v, bool) or v is None:
        return json.dumps(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(value_text(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {value_text(x)}" for k, x in v.items()) + "}"
    return str(v)


def _first_of(env: dict, keys: tuple[str, ...]):
    return next((env[k] for k in keys if env.get(k) is not None), None)


def _one_or_all(values) -> Any:
    """The one value every run shares; the distinct values in order when they differ; None when unrecorded."""
    seen = list(dict.fromkeys(v for v in values if v is not None))
    return None if not seen else seen[0] if len(seen) == 1 else seen


def _json(value: Any) -> Any:
    if isinstance(value, str) and value:
        return json.loads(value)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _number(value: Any) -> float | None:
    v = float(value)
    return None if math.isnan(v) else v


def _day(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc).date().isoformat()


def _text(v: Any) -> str:
    return ", ".join(map(str, v)) if isinstance(v, list) else str(v)


def _short(commit: Any) -> str:
    if isinstance(commit, list):
        return " and ".join(_short(c) for c in commit)
    return str(commit)[:7] if commit else "(unknown)"
