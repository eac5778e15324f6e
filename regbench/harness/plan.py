"""From a validated suite to resolved run specs with run keys (docs/architecture.md, Pipeline).

``load_suite`` finishes what ``config`` starts: every name is looked up in its registry and
every parameter block is validated against the registered object's signature, all before
any training, with one line per problem naming the file and the field path. A built-in entry
is read from its declared stand-in until the registries are imported (``catalog.planning``,
``catalog.stacks``), so that checking a suite needs no torch.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from regbench.catalog.planning import (
    DATASET_SKIP,
    MODEL_SKIP,
    model_code,
    registered_builder,
    registered_loader,
    registered_shift,
    regularizer_code,
)
from regbench.catalog.signatures import signature_of
from regbench.catalog.stacks import stack_of
from regbench.config import (
    BenchmarkSpec,
    ConfigError,
    RegularizerConfig,
    SuiteSpec,
    TrainSpec,
    format_validation_error,
    read_suite_file,
    suite_path,
)
from regbench.harness.applicability import check_pairs, dataset_task, row_kinds
from regbench.params import resolve_params
from regbench.plugins import PluginError
from regbench.registry import UnknownNameError
from regbench.shifts.shards import RULE as HELD_OUT_RULE
from regbench.shifts.shards import SHARES

# 2: the run key covers the run's numerics (device type, precision, intra-op threads) and the
# plugin's local helper modules
RESULT_FORMAT_VERSION = 2


@dataclass(frozen=True)
class Numerics:
    """How a run computes, where that changes its numbers: part of its run key.

    The same run on CUDA (bf16 autocast, other kernels) or with another intra-op thread count
    (a reduction split over 2 threads sums in another order than over 1) gives other numbers,
    so each is its own run. The planner fixes these before any key is computed
    (:func:`regbench.harness.numerics.bind_numerics`), so the driver and every worker agree.
    The defaults are what a plain ``regbench run`` on CPU computes in: they equal
    ``regbench.train.execution.DEFAULT_THREADS`` and ``precision(cpu)`` (a test pins both;
    this stage may not import ``train``).
    """

    device: str = "cpu"  # the device type the run computes on: cpu | cuda (not which GPU)
    precision: str = "fp32"  # what the forward pass computes in: fp32 | bf16
    threads: int = 1  # torch's intra-op thread count for the run


@dataclass(frozen=True)
class ResolvedBenchmark:
    """A benchmark with every default filled in (what the data cache and run key hash)."""

    spec: BenchmarkSpec
    loader: str  # registry name of the dataset loader
    dataset_args: dict[str, Any]
    model_args: dict[str, Any]
    shift_params: dict[str, Any]
    # a model plugin's code identity (regbench.models.model_code; None for a built-in), fixed
    # when the benchmark is resolved so that a worker computes the same run key as the driver
    model_code: str | None = None

    def data_key(self) -> dict[str, Any]:
        """Everything that determines the benchmark's splits."""
        # the corruption tables sit in the corruptions package (torch): read when a run key is
        # computed, not when a suite is checked
        from regbench.shifts.corruptions import DATASET_SCALES

        key = {
            "dataset": self.loader,
            "dataset_args": self.dataset_args,
            "shift": self.spec.shift.kind,
            "shift_params": self.shift_params,
            "data_seed": self.spec.data_seed,
        }
        # the sharded families' test images depend on the held-out rule too: a changed rule
        # gets a new split-cache folder and new run keys, never a split built by the old one
        if registered_shift(self.spec.shift.kind).family in SHARES:
            key["held_out"] = HELD_OUT_RULE
        # a covariate shift's severities are scaled by the dataset's calibration table, which is
        # code, not a parameter: it joins the key, so a recalibration rebuilds the splits and retrains
        if self.spec.shift.kind == "covariate" and self.shift_params.get("severity_table") == "calibrated":
            key["corruption_scales"] = dict(sorted(DATASET_SCALES.get(self.loader, {}).items()))
        return key


@dataclass(frozen=True)
class RunSpec:
    """One run: a benchmark × a regularizer config × a seed, fully resolved."""

    suite: str
    benchmark: ResolvedBenchmark
    regularizer: RegularizerConfig
    reg_params: tuple[dict[str, Any], ...]  # resolved params per stack member
    train: TrainSpec
    seed: int
    # per stack member: the plugin's code identity (None for a standard regularizer), fixed
    # when the run is planned so that a worker computes the same run key as the driver
    code: tuple[str | None, ...] = ()
    # where and how the run computes (device type, precision, threads): part of the run key
    numerics: Numerics = Numerics()
    # what the row adds to the suite's shared base, as a kind (applicability.row_kinds); not
    # part of the run key: it describes the suite's row, recorded as the run's regularizer_kind
    kind: str = ""

    def __post_init__(self) -> None:
        if not self.code:
            object.__setattr__(self, "code", plugin_codes(self.regularizer))

    @property
    def canonical(self) -> dict[str, Any]:
        members = zip(self.regularizer.stack, self.reg_params, self.code)
        return {
            "version": RESULT_FORMAT_VERSION,
            **self.benchmark.data_key(),
            "model": self.benchmark.spec.model,
            "model_args": self.benchmark.model_args,
            # a model plugin's code hash, so editing the plugin trains new runs (none for built-ins)
            **({"model_code": self.benchmark.model_code} if self.benchmark.model_code else {}),
            # a plugin's code hash joins its entry, so editing the plugin trains new runs
            "regularizer": [{"name": s.name, "params": p, **({"code": c} if c else {})} for s, p, c in members],
            "train": self.train.model_dump(mode="json"),
            "seed": self.seed,
            "numerics": asdict(self.numerics),
        }

    @property
    def run_key(self) -> str:
        text = json.dumps(self.canonical, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    @property
    def name(self) -> str:
        return f"{self.benchmark.spec.name}/{self.regularizer.display}/seed{self.seed}"


def plugin_codes(cfg: RegularizerConfig) -> tuple[str | None, ...]:
    """Each stack member's code identity (:func:`regbench.regularizers.plugins.code_identity`)."""
    return tuple(regularizer_code(s.name) for s in cfg.stack)


def dataset_loader(name: str) -> tuple[str, dict[str, Any]]:
    """``hf:cifar10:plain_text`` → ("hf", {"path": "cifar10", "config": "plain_text"})."""
    if name.startswith("hf:"):
        _, path, *config = name.split(":", 2)
        return "hf", {"path": path, **({"config": config[0]} if config else {})}
    return name, {}


def resolve_benchmark(b: BenchmarkSpec, where: str, errors: list[str]) -> ResolvedBenchmark | None:
    """Check a benchmark's names and parameters; append one message per problem to ``errors``."""
    loader, implied = dataset_loader(b.dataset)
    out: dict[str, Any] = {}
    checks = [
        ("dataset", loader, registered_loader, {**implied, **b.dataset_args}, "dataset_args", DATASET_SKIP),
        ("model", b.model, registered_builder, b.model_args, "model_args", MODEL_SKIP),
    ]
    code = None
    for field, name, lookup, given, args_field, skip in checks:
        try:
            out[args_field] = resolve_params(lookup(name), given, skip)
            code = model_code(name) if field == "model" else code
        except (UnknownNameError, PluginError) as err:
            errors.append(f"{where}.{field}: {err}")
        except ValidationError as err:
            errors.append(format_validation_error(err, where.split(":")[0], (where.split(": ")[-1], args_field)))
    try:
        shift = registered_shift(b.shift.kind)
        out["shift_params"] = shift.Params.model_validate(b.shift.params).model_dump(mode="json")
    except UnknownNameError as err:
        errors.append(f"{where}.shift.kind: {err}")
    except ValidationError as err:
        errors.append(format_validation_error(err, where.split(":")[0], (where.split(": ")[-1], "shift"), shift.Params))
    if len(out) < 3:
        return None
    return ResolvedBenchmark(b, loader, out["dataset_args"], out["model_args"], out["shift_params"], code)


def resolve_regularizer(cfg: RegularizerConfig, where: str, errors: list[str]) -> tuple[dict, ...] | None:
    """Validate each stack member's name and parameters, then the stack's conflicts."""
    resolved = []
    for i, spec in enumerate(cfg.stack):
        try:
            resolved.append(resolve_params(signature_of(spec.name), spec.params))
        except (UnknownNameError, ImportError, TypeError) as err:
            errors.append(f"{where}.stack[{i}].name: {err}")
        except ValidationError as err:
            file, path = where.split(": ")
            errors.append(format_validation_error(err, file, (path, f"stack[{i}]", "params")))
    if len(resolved) != len(cfg.stack):
        return None
    try:
        stack_of(cfg, tuple(resolved))
    except ValueError as err:
        errors.append(f"{where}: {err}")
        return None
    return tuple(resolved)


def check_label_noise(benches, trains, source: str, errors: list[str]) -> None:
    """One error per benchmark that asks for label noise on a task without one label per example."""
    for i, (rb, train) in enumerate(zip(benches, trains)):
        task = dataset_task(rb.loader)
        if task != "classification" and train.label_noise > 0:  # flipping a label needs one label
            errors.append(
                f"{source}: benchmarks[{i}].train.label_noise: '{rb.spec.name}' is a {task} task; "
                "label noise applies to classification only"
            )


@dataclass(frozen=True)
class Plan:
    """A suite's runs. ``members``: the name the runs are registered under in the store
    (``suite_runs``; default: the suite's name). A sweep's or a comparison's runs are
    registered under their own name, so they never replace the suite's declared rows."""

    suite: SuiteSpec
    source: str
    runs: tuple[RunSpec, ...]
    members: str = ""

    @property
    def members_name(self) -> str:
        """The store's name for this plan's rows: ``members``, else the suite's name."""
        return self.members or self.suite.name

    def with_numerics(self, numerics: Numerics) -> Plan:
        """This plan with every run computing in ``numerics`` (new run keys where they differ)."""
        if all(r.numerics == numerics for r in self.runs):
            return self
        return replace(self, runs=tuple(replace(r, numerics=numerics) for r in self.runs))


def plan_suite(suite: SuiteSpec, source: str = "<suite>") -> Plan:
    """Resolve every benchmark and regularizer of ``suite`` and expand benchmark × reg × seed."""
    errors: list[str] = []
    benches = [resolve_benchmark(b, f"{source}: benchmarks[{i}]", errors) for i, b in enumerate(suite.benchmarks)]
    regs = [resolve_regularizer(r, f"{source}: regularizers[{i}]", errors) for i, r in enumerate(suite.regularizers)]
    trains = []
    for i, b in enumerate(suite.benchmarks):
        try:
            trains.append(suite.train_for(b))
        except ValidationError as err:
            errors.append(format_validation_error(err, source, (f"benchmarks[{i}]", "train")))
    declared: set[tuple[int, int]] = set()
    if not errors:
        check_label_noise(benches, trains, source, errors)
        declared = check_pairs(suite, benches, regs, source, errors)
    if errors:
        raise ConfigError("\n".join(errors))
    kinds = row_kinds(suite, regs)
    runs = tuple(
        RunSpec(suite.name, rb, cfg, params, train, seed, kind=kind)
        for i, (rb, train) in enumerate(zip(benches, trains))
        for j, (cfg, params, kind) in enumerate(zip(suite.regularizers, regs, kinds))
        if (i, j) not in declared  # declared not applicable: not trained, "n/a" on the leaderboard
        for seed in suite.seeds
    )
    return Plan(suite, source, runs)


def load_suite(name_or_path: str | Path) -> Plan:
    """Read, validate and plan a suite by name (a shipped suite) or path."""
    path = suite_path(name_or_path)
    return plan_suite(read_suite_file(path), str(path))
