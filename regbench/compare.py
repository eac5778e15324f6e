"""``regbench compare SPEC --suite SUITE``: a new regularizer against the suite's baselines.

Plans the suite's benchmarks × seeds for the new regularizer and for every baseline config
of the suite (plus erm if the suite lacks it), trains only what the store does not already
hold — baseline runs are reused by run key — marks the new runs as a submission, and writes
``leaderboard/<suite>/compare-<name>.md`` (see :mod:`regbench.compare_report`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from regbench.config import ConfigError, RegularizerConfig, RegularizerSpec, format_validation_error
from regbench.plan import Plan, RunSpec, load_suite, plan_suite
from regbench.store import Store


def parse_params(pairs: list[str] | None, yaml_file: str | None) -> dict[str, Any]:
    """``--params-yaml FILE`` (a mapping) then ``--param k=v`` (YAML values: 0.3, true, [1, 2])."""
    params: dict[str, Any] = {}
    if yaml_file:
        try:
            data = yaml.safe_load(Path(yaml_file).read_text())
        except FileNotFoundError:
            raise ConfigError(f"{yaml_file}: no such parameter file") from None
        except yaml.YAMLError as err:
            raise ConfigError(f"{yaml_file}: not valid YAML ({getattr(err, 'problem', err)})") from None
        if data is not None and not isinstance(data, dict):
            raise ConfigError(f"{yaml_file}: expected a mapping of parameter: value; found {type(data).__name__}")
        params.update(data or {})
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ConfigError(f"--param {pair}: expected NAME=VALUE, e.g. --param lam=0.3")
        try:
            params[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ConfigError(f"--param {pair}: value is not valid YAML") from None
    return params


def default_name(spec: str) -> str:
    """A display name: the registered name of the plugin class, else its class or spec name."""
    from regbench.regularizers.build import lookup

    cls = lookup(spec)
    name = getattr(cls, "registered_name", "") or cls.__name__
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", name)


def plan_compare(spec: str, suite: str | Path, params: dict[str, Any], name: str | None = None):
    """(full plan, new runs, baseline configs' display names, new config's display name)."""
    from regbench.params import resolve_params
    from regbench.regularizers.build import build_stack, lookup

    plan = load_suite(suite)
    cls = lookup(spec)  # PluginError / UnknownNameError: one line, before anything trains
    try:
        resolved = resolve_params(cls, params)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, f"parameters of {spec}")) from None
    name = name or default_name(spec)
    if not re.fullmatch(r"[A-Za-z0-9_.\-\[\]+=,()]+", name):
        raise ConfigError(f"--name {name!r}: use letters, digits and _ . - only")
    baselines = [c.display for c in plan.suite.regularizers]
    if name in baselines:
        raise ConfigError(
            f"--name {name}: a baseline of suite '{plan.suite.name}' is already called that; pass another --name"
        )
    cfg = RegularizerConfig(stack=(RegularizerSpec(name=spec, params=params),), label=name)
    build_stack(cfg, (resolved,))  # construction errors now, not in every run
    configs = list(plan.suite.regularizers)
    if "erm" not in baselines:  # the comparison is always also against plain ERM
        configs.append(RegularizerConfig(stack=(RegularizerSpec(name="erm"),)))
        baselines.append("erm")
    suite_spec = plan.suite.model_copy(update={"regularizers": tuple(configs)})
    base_plan = plan_suite(suite_spec, plan.source)
    benches = list({r.benchmark.spec.name: (r.benchmark, r.train) for r in base_plan.runs}.values())
    new_runs = tuple(
        RunSpec(plan.suite.name, rb, cfg, (resolved,), train, seed)
        for rb, train in benches
        for seed in plan.suite.seeds
    )
    same = {r.run_key for r in new_runs} & {r.run_key for r in base_plan.runs}
    if same:
        twin = next(r.regularizer.display for r in base_plan.runs if r.run_key in same)
        raise ConfigError(
            f"'{spec}' with these parameters is the baseline '{twin}' (identical run keys); "
            "change its parameters to compare something new"
        )
    full = Plan(suite_spec, plan.source, base_plan.runs + new_runs)
    return full, new_runs, baselines, name


def compare(
    spec: str,
    suite: str | Path,
    params: dict[str, Any],
    store_path: str | Path,
    name: str | None = None,
    out_dir: str | Path | None = None,
    **run_args: Any,
) -> tuple[int, str]:
    """Run the comparison; return (exit code, markdown report). Exit 1 when the new
    regularizer has no finished run (its errors are in the report), else 0."""
    from regbench.compare_report import build_sections, render
    from regbench.runner import run_plan
    from regbench.sweep_run import labelled_records

    full, new_runs, baselines, name = plan_compare(spec, suite, params, name)
    store = Store(store_path)
    base_keys = {r.run_key for r in full.runs} - {r.run_key for r in new_runs}
    reused_base = len(store.done_keys(base_keys))
    counts = run_plan(full, store, **run_args)
    store.mark_submission([r.run_key for r in new_runs])
    records = labelled_records(store, full)
    suite_spec = full.suite
    benches = [b.name for b in suite_spec.benchmarks]
    sections = build_sections(records, name, baselines, benches, suite_spec.seeds, suite_spec.primary_metric)
    params_text = ", ".join(f"{k}={v}" for k, v in sorted(new_runs[0].reg_params[0].items())) or "none"
    header = [
        f"# {name} vs the baselines of suite {suite_spec.name}",
        "",
        f"New regularizer `{spec}` (parameters: {params_text}); baselines: {', '.join(baselines)}.",
        f"Seeds {list(suite_spec.seeds)}; {len(full.runs)} runs planned: {len(new_runs)} of the new regularizer, "
        f"{len(base_keys)} baseline runs of which {reused_base} were reused from the store and "
        f"{len(base_keys) - reused_base} trained now.",
        f"Verdicts are on the suite's primary metric ({suite_spec.primary_metric}). A win needs the 95% CI of "
        "the paired difference (Student t over seeds) to exclude 0 in the new regularizer's favour; "
        "a loss needs it to exclude 0 against; anything else is inconclusive.",
    ]
    failed = [r for r in records if r["regularizer"] == name and r["status"] != "ok"]
    if failed:
        first = (failed[0].get("error") or "").strip().splitlines()
        header += [
            "",
            f"**{len(failed)} of {len(new_runs)} runs of {name} did not finish** "
            f"({failed[0]['status']}): {first[0] if first else 'no error text'}",
        ]
    text = render(sections, name, suite_spec.primary_metric, header)
    out = Path(out_dir) if out_dir else Path("leaderboard") / suite_spec.name
    out.mkdir(parents=True, exist_ok=True)
    (out / f"compare-{name}.md").write_text(text)
    counts["reused_baseline"] = reused_base
    ok_new = sum(1 for r in records if r["regularizer"] == name and r["status"] == "ok")
    return (0 if ok_new else 1), text
