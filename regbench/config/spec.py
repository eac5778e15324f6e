"""The suite models: typed, frozen, validated (docs/architecture.md, Suites).

This module checks *structure*: types, ranges, unknown keys. Names (datasets, models,
shifts, regularizers) and their parameters are checked against the registries by
``regbench.harness.plan.load_suite`` — still before any training — because the registries live
further down the pipeline than this package may import.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from regbench.params import StrictNumbers

# what a leaderboard may rank by: the report's column keys (tests/test_report.py checks they exist)
PRIMARY_METRICS = ("ood_accuracy", "id_accuracy", "worst_group_accuracy", "ece_ood")


class Frozen(StrictNumbers):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrainSpec(Frozen):
    """How every run of a benchmark is trained. Part of the run key."""

    epochs: int = Field(20, ge=1, le=100_000)
    batch_size: int = Field(128, ge=1)
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = Field(1e-3, gt=0)
    momentum: float = Field(0.9, ge=0, lt=1)  # SGD only
    schedule: Literal["constant", "cosine"] = "constant"
    label_noise: float = Field(0.0, ge=0, lt=1)  # fraction of training labels flipped
    label_noise_kind: Literal["symmetric", "class_conditional"] = "symmetric"
    data_resample: Literal["none", "bootstrap"] = "none"  # vary the training set with the seed


class RegularizerSpec(Frozen):
    """One regularizer by name with its parameters, e.g. ``{name: mixup, alpha: 0.4}``."""

    name: str
    params: dict[str, Any] = {}

    @model_validator(mode="before")
    @classmethod
    def _from_short_forms(cls, v: Any) -> Any:
        if isinstance(v, str):
            return {"name": v}
        if isinstance(v, dict) and "name" in v and "params" not in v:
            return {"name": v["name"], "params": {k: x for k, x in v.items() if k != "name"}}
        return v


class RegularizerConfig(Frozen):
    """A regularizer config: one spec or a stack of them applied in order, with a display label.

    YAML forms: ``mixup`` · ``{name: mixup, alpha: 0.4}`` · ``[weight_decay, mixup]`` ·
    ``{stack: [weight_decay, mixup], label: wd+mixup}``.
    """

    stack: tuple[RegularizerSpec, ...] = Field(min_length=1)
    label: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_short_forms(cls, v: Any) -> Any:
        if isinstance(v, (str, list, tuple)):
            return {"stack": [v] if isinstance(v, str) else list(v)}
        if isinstance(v, dict) and "stack" not in v:
            return {"stack": [v]}
        return v

    @property
    def display(self) -> str:
        """The leaderboard's row name: ``label``, else names (with non-default params) joined by '+'."""
        if self.label:
            return self.label
        parts = []
        for s in self.stack:
            args = ",".join(f"{k}={v}" for k, v in sorted(s.params.items()))
            parts.append(f"{s.name}({args})" if args else s.name)
        return "+".join(parts)


class ShiftSpec(Frozen):
    """``{kind: covariate, corruptions: [...], severities: [...]}``: kind plus its parameters."""

    kind: str = "none"
    params: dict[str, Any] = {}

    @model_validator(mode="before")
    @classmethod
    def _split_kind(cls, v: Any) -> Any:
        if isinstance(v, str):
            return {"kind": v}
        if isinstance(v, dict) and "params" not in v:
            return {"kind": v.get("kind", "none"), "params": {k: x for k, x in v.items() if k != "kind"}}
        return v


class BenchmarkSpec(Frozen):
    """A dataset, a model and a shift. ``train`` overrides fields of the suite's training spec."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:\-]+$")
    dataset: str
    dataset_args: dict[str, Any] = {}
    model: str = "cnn"
    model_args: dict[str, Any] = {}
    shift: ShiftSpec = ShiftSpec()
    data_seed: int = Field(0, ge=0)  # fixes the split and the shift across run seeds
    train: dict[str, Any] = {}
    # regularizer configs (by row label) that cannot run on this benchmark, each with why:
    # they are not planned here and the leaderboard shows "n/a" (README, Suites).
    # YAML: ``not_applicable: [irm, vrex]`` or ``{irm: needs training environments}``
    not_applicable: dict[str, str] = {}

    @field_validator("not_applicable", mode="before")
    @classmethod
    def _labels_or_reasons(cls, v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            if not all(isinstance(n, str) for n in v):
                raise ValueError(f"a list of regularizer labels or a mapping label: reason, got {list(v)!r}")
            return {n: "" for n in v}
        return v


class BudgetCurveSpec(Frozen):
    """Extra runs at other training budgets, for an accuracy-against-epochs curve.

    YAML: ``budget_curve: {epochs: [10, 20, 40], regularizers: [erm, specaugment]}``. Every
    listed row (by label) is trained on every benchmark and seed at each epoch count, stored
    under the suite ``<name>-budget`` (``harness.budget_curve``); a budget equal to the suite's
    own reuses its runs (the benchmark name is not part of a run key). The leaderboard plots
    them; they never join the ranking.
    """

    epochs: tuple[int, ...] = Field(min_length=2)
    regularizers: tuple[str, ...] = Field(min_length=1)

    @field_validator("epochs")
    @classmethod
    def _distinct_positive(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if len(set(v)) != len(v) or any(e < 1 for e in v):
            raise ValueError(f"budget_curve.epochs must be distinct positive integers, got {list(v)}")
        return tuple(sorted(v))

    @staticmethod
    def suite_name(suite: str) -> str:
        """The store name of ``suite``'s budget-curve runs."""
        return f"{suite}-budget"

    @staticmethod
    def benchmark_name(benchmark: str, epochs: int) -> str:
        """The name a benchmark trained for ``epochs`` epochs has in the budget-curve suite."""
        return f"{benchmark}.e{epochs}"


class SuiteSpec(Frozen):
    """A suite: benchmarks × regularizers × seeds, trained with one training spec."""

    # the name becomes a folder (leaderboard/<name>/): one path component, never "." or ".."
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    # said above every leaderboard table of the suite, e.g. "not comparable to the paper"
    caveat: str = ""
    seeds: tuple[int, ...] = Field((0, 1, 2), min_length=1)
    train: TrainSpec = TrainSpec()
    benchmarks: tuple[BenchmarkSpec, ...] = Field(min_length=1)
    regularizers: tuple[RegularizerConfig, ...] = Field(min_length=1)
    primary_metric: Literal[PRIMARY_METRICS] = "ood_accuracy"  # type: ignore[valid-type]
    selection: Literal["val_accuracy", "val_loss"] = "val_accuracy"
    # execution option, not part of any run key: save an in-run checkpoint every N epochs
    # (0 = never); `regbench run --checkpoint-every N` overrides it
    checkpoint_every: int = Field(0, ge=0)
    # execution option, not part of any run key: train the seeds of each benchmark × regularizer
    # as one stacked model (`regbench run --batch-seeds` turns it on for one invocation)
    batch_seeds: bool = False
    # execution option too: seconds one run may take before it is killed and recorded
    # `failed: timeout` (None = no limit); `regbench run --run-timeout S` overrides it
    run_timeout: float | None = Field(None, gt=0)
    # accuracy against training budget for a few rows (BudgetCurveSpec); not ranked
    budget_curve: BudgetCurveSpec | None = None

    @field_validator("name")
    @classmethod
    def _one_path_component(cls, v: str) -> str:
        check_path_component(v, "a suite name")
        return v

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if len(set(v)) != len(v) or any(s < 0 for s in v):
            raise ValueError(f"seeds must be distinct non-negative integers, got {list(v)}")
        return v

    @field_validator("benchmarks")
    @classmethod
    def _unique_benchmarks(cls, v):
        return _no_repeats(v, [b.name for b in v], "benchmark names must be unique")

    @field_validator("regularizers")
    @classmethod
    def _unique_regularizers(cls, v):
        names = [r.display for r in v]
        return _no_repeats(v, names, "regularizer configs must be distinct", " (use label: to name variants)")

    @model_validator(mode="after")
    def _budget_curve_rows_exist(self) -> SuiteSpec:
        if self.budget_curve is not None:
            labels = [r.display for r in self.regularizers]
            unknown = [r for r in self.budget_curve.regularizers if r not in labels]
            if unknown:
                raise ValueError(
                    f"budget_curve.regularizers {unknown} are not rows of the suite (its labels: {', '.join(labels)})"
                )
        return self

    def with_not_applicable_renamed(self, labels: dict[str, list[str]]) -> SuiteSpec:
        """The suite with each benchmark's ``not_applicable`` labels replaced by ``labels[label]``
        (a sweep's candidates of that config); labels not in ``labels`` are dropped."""
        benches = tuple(
            b.model_copy(
                update={"not_applicable": {c: why for n, why in b.not_applicable.items() for c in labels.get(n, [])}}
            )
            for b in self.benchmarks
        )
        return self.model_copy(update={"benchmarks": benches})

    def train_for(self, bench: BenchmarkSpec) -> TrainSpec:
        """The suite's training spec with the benchmark's overrides applied (validated)."""
        return TrainSpec.model_validate({**self.train.model_dump(), **bench.train})


def check_path_component(name: str, what: str) -> str:
    """``name`` if it is usable as one file or folder name; else ValueError.

    Suite and report names become paths (``leaderboard/<suite>/compare-<name>.md``): a name
    that is empty, ``.``, ``..`` or holds a separator would write outside that folder.
    """
    if not name or name in (".", "..") or any(c in name for c in "/\\\0"):
        raise ValueError(f"{what} must be one path component (no '/', not '.' or '..'), got {name!r}")
    return name


def _no_repeats(value, names: list[str], what: str, hint: str = ""):
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"{what}; repeated: {dup}{hint}")
    return value
