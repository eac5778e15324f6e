"""Planning a comparison: the new regularizer's runs beside every baseline config of a suite.

The suite's benchmarks × seeds for the new regularizer and for every baseline config (plus
erm if the suite lacks it); baseline runs keep their run keys, so the store reuses them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from regbench.config import (
    ConfigError,
    RegularizerConfig,
    RegularizerSpec,
    check_path_component,
    load_yaml_text,
    format_validation_error,
)
from regbench.harness.plan import Plan, load_suite, plan_suite
from regbench.params import resolve_params
from regbench.regularizers.build import lookup


def parse_params(pairs: list[str] | None, yaml_file: str | None) -> dict[str, Any]:
    """``--params-yaml FILE`` (a mapping) then ``--param k=v`` (YAML values: 0.3, true, [1, 2])."""
    params: dict[str, Any] = {}
    if yaml_file:
        try:
            data = load_yaml_text(Path(yaml_file).read_text())  # within the suite files' size limits
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
    cls = lookup(spec)
    name = getattr(cls, "registered_name", "") or cls.__name__
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", name)


def plan_compare(spec: str, suite: str | Path, params: dict[str, Any], name: str | None = None):
    """(full plan, new runs, baseline configs' display names, new config's display name).

    The new regularizer joins the suite as one more config, so its parameters are checked
    and its runs expanded by the same code as every suite's (:func:`plan_suite`).
    """
    plan = load_suite(suite)
    try:  # PluginError / UnknownNameError / bad parameters: one line, before anything trains
        resolve_params(lookup(spec), params)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, f"parameters of {spec}")) from None
    name = name or default_name(spec)
    if not re.fullmatch(r"[A-Za-z0-9_.\-\[\]+=,()]+", name):
        raise ConfigError(f"--name {name!r}: use letters, digits and _ . - only")
    try:  # the name is a file name: compare-<name>.md
        check_path_component(name, "--name")
    except ValueError as err:
        raise ConfigError(str(err)) from None
    baselines = [c.display for c in plan.suite.regularizers]
    if name in baselines:
        raise ConfigError(
            f"--name {name}: a baseline of suite '{plan.suite.name}' is already called that; pass another --name"
        )
    configs = list(plan.suite.regularizers)
    if "erm" not in baselines:  # the comparison is always also against plain ERM
        configs.append(RegularizerConfig(stack=(RegularizerSpec(name="erm"),)))
        baselines.append("erm")
    new = RegularizerConfig(stack=(RegularizerSpec(name=spec, params=params),), label=name)
    suite_spec = plan.suite.model_copy(update={"regularizers": (*configs, new)})
    full = plan_suite(suite_spec, plan.source)
    new_runs = tuple(r for r in full.runs if r.regularizer.display == name)
    base_keys = {r.run_key for r in full.runs if r.regularizer.display != name}
    same = {r.run_key for r in new_runs} & base_keys
    if same:
        twin = next(r.regularizer.display for r in full.runs if r.run_key in same and r.regularizer.display != name)
        raise ConfigError(
            f"'{spec}' with these parameters is the baseline '{twin}' (identical run keys); "
            "change its parameters to compare something new"
        )
    return Plan(suite_spec, plan.source, full.runs), new_runs, baselines, name
