"""Planning a comparison: the new regularizer's runs beside every baseline config of a suite.

The suite's benchmarks × seeds for the new regularizer and for every baseline config (plus
erm if the suite lacks it); baseline runs keep their run keys, so the store reuses them.
The comparison's runs (baselines and submission) are registered in the store under the
submission's own name, ``<suite>/compare/<name>-<hash>`` (:func:`compare_namespace`), never
under the suite: the suite's leaderboard rows stay its declared configs, and two variants
(other parameters or code) each keep their own rows and report.
"""

from __future__ import annotations

import hashlib
import json
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
from regbench.harness.plan import Plan, load_suite, plan_suite, plugin_codes
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


def submission_identity(name: str, config: RegularizerConfig, resolved: dict[str, Any]) -> str:
    """``<name>-<8 hex>``: the display name and a hash of the submission's spec, resolved
    parameters and code identity (the ``regularizer`` entry of its runs' canonical spec), so
    the same plugin with other parameters or edited code is another submission."""
    (code,) = plugin_codes(config)
    entry = [{"name": config.stack[0].name, "params": resolved, **({"code": code} if code else {})}]
    text = json.dumps(entry, sort_keys=True, separators=(",", ":"))
    return f"{name}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def compare_namespace(suite_name: str, identity: str) -> str:
    """The store name a comparison's runs are registered under: ``<suite>/compare/<identity>``."""
    return f"{suite_name}/compare/{identity}"


def plan_compare(spec: str, suite: str | Path, params: dict[str, Any], name: str | None = None):
    """(full plan, new runs, baseline configs' display names, new config's display name,
    the submission's identity :func:`submission_identity`).

    The new regularizer joins the suite as one more config, so its parameters are checked
    and its runs expanded by the same code as every suite's (:func:`plan_suite`). The full
    plan's ``members`` is :func:`compare_namespace`: its runs are registered there, not
    under the suite.
    """
    plan = load_suite(suite)
    try:  # PluginError / UnknownNameError / bad parameters: one line, before anything trains
        resolved = resolve_params(lookup(spec), params)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, f"parameters of {spec}")) from None
    name = name or default_name(spec)
    if not re.fullmatch(r"[A-Za-z0-9_.\-\[\]+=,()]+", name):
        raise ConfigError(f"--name {name!r}: use letters, digits and _ . - only")
    try:  # the name is part of a file name: compare-<name>-<hash>.md
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
    identity = submission_identity(name, new, resolved)
    members = compare_namespace(plan.suite.name, identity)
    return Plan(suite_spec, plan.source, full.runs, members), new_runs, baselines, name, identity
