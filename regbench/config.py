"""Typed, frozen, validated suite configuration (docs/architecture.md, Suites, docs/architecture.md, Conventions: Parameters).

This module checks *structure*: types, ranges, unknown keys. Names (datasets, models,
shifts, regularizers) and their parameters are checked against the registries by
``regbench.harness.plan.load_suite`` — still before any training — because the registries live
further down the pipeline than this module may import.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from regbench.params import MODELS, StrictNumbers, did_you_mean
from regbench.registry import UnknownNameError, UserError


def _shipped_suites_dir() -> Path:
    """The folder of the suites that ship with regbench.

    The repository keeps them at its top level, ``suites/``; building the wheel maps that folder
    into the package as ``regbench/suites/`` (setup.py). So an installed wheel finds them inside
    the package and a source checkout (editable install, or the checkout on PYTHONPATH) beside it.
    """
    package = Path(str(files("regbench")))
    installed = package / "suites"
    # the search-space file ships with every suite folder: its presence tells a complete folder
    # from a leftover empty one
    return installed if (installed / "regularizers.yaml").is_file() else package.parent / "suites"


SUITES_DIR = _shipped_suites_dir()
SEARCH_SPACES = SUITES_DIR / "regularizers.yaml"  # not a suite: the standard regularizers' search spaces

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


class ConfigError(UserError, ValueError):
    """A suite file is malformed. The message is one line per problem: file, field path,
    what was expected and what was found."""


def format_validation_error(
    err: ValidationError, source: str, prefix: tuple = (), model: type[BaseModel] | None = None
) -> str:
    """One line per error: ``FILE: a.b[0].c: expected …, found …``; an unknown field gets a
    "did you mean" from the fields of ``model`` (default: the parameter model named in ``err``)."""
    model = model or MODELS.get(err.title)
    lines = []
    errors = err.errors()
    for e in errors:
        # pydantic also reports a parent list as "too short" once a bad item is dropped: noise
        if e["type"] == "too_short" and any(
            len(o["loc"]) > len(e["loc"]) and o["loc"][: len(e["loc"])] == e["loc"] for o in errors
        ):
            continue
        loc = _path((*prefix, *e["loc"]))
        found = e.get("input")
        msg = e["msg"]
        for lead in ("Value error, ", "Input should be ", "input should be "):
            if msg.startswith(lead):
                msg = msg[len(lead) :]
        if e["type"] == "extra_forbidden":
            known = model_at(model, e["loc"][:-1])
            hint = did_you_mean(known, str(e["loc"][-1])) if known else ""
            lines.append(f"{source}: {loc}: unknown field (not allowed here){'.' + hint if hint else ''}")
        elif e["type"] == "missing":
            lines.append(f"{source}: {loc}: required field is missing")
        else:
            lines.append(f"{source}: {loc}: expected {msg}; found {found!r}")
    return "\n".join(lines)


def model_at(model: type[BaseModel] | None, loc: tuple) -> type[BaseModel] | None:
    """The pydantic model that field path ``loc`` of ``model`` leads to (None when it leaves models)."""
    for part in loc:
        if model is None or isinstance(part, int) or "function-" in str(part):
            continue
        field = model.model_fields.get(str(part))
        model = _model_in(field.annotation) if field else None
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "function-" in str(part):  # pydantic's name for a before-validator step
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


SWEEP_FIELD = "sweep_model_args"


def expand_sweeps(data: dict, source: str = "<suite>") -> dict:
    """Expand each benchmark's ``sweep_model_args: {arg: [v1, v2, …]}`` into one benchmark per value.

    ``{name: mlp, model_args: {depth: 1}, sweep_model_args: {width: [8, 64]}}`` becomes
    ``mlp-width8`` and ``mlp-width64`` with ``model_args`` ``{depth: 1, width: 8}`` / ``{…, 64}``;
    several args give their cartesian product, suffixes in the order written. Expansion runs
    before validation, so every expanded benchmark is validated like a hand-written one (field
    paths then index the expanded list; the names carry the suffix).
    """
    benches = data.get("benchmarks")
    if not isinstance(benches, list) or not any(isinstance(b, dict) and SWEEP_FIELD in b for b in benches):
        return data
    out: list[Any] = []
    for i, b in enumerate(benches):
        if not (isinstance(b, dict) and SWEEP_FIELD in b):
            out.append(b)
            continue
        where = f"{source}: benchmarks[{i}].{SWEEP_FIELD}"
        sweep = b[SWEEP_FIELD]
        if not isinstance(sweep, dict) or not sweep:
            raise ConfigError(
                f"{where}: expected a non-empty mapping of model argument → list of values; found {sweep!r}"
            )
        base_args = b.get("model_args") or {}
        combos: list[tuple[str, dict]] = [("", {})]
        for arg, values in sweep.items():
            if not isinstance(values, list) or not values or len(set(map(repr, values))) != len(values):
                raise ConfigError(f"{where}.{arg}: expected a non-empty list of distinct values; found {values!r}")
            if isinstance(base_args, dict) and arg in base_args:
                raise ConfigError(f"{where}.{arg}: also set in model_args; set it in one place")
            combos = [(f"{sfx}-{arg}{v}", {**args, arg: v}) for sfx, args in combos for v in values]
        rest = {k: v for k, v in b.items() if k != SWEEP_FIELD}
        for sfx, args in combos:
            out.append({**rest, "name": f"{rest.get('name', '')}{sfx}", "model_args": {**base_args, **args}})
    return {**data, "benchmarks": out}


def parse_suite(data: Any, source: str = "<suite>") -> SuiteSpec:
    """Validate a suite mapping; raise :class:`ConfigError` with file and field paths.

    Benchmarks with ``sweep_model_args`` are expanded first (:func:`expand_sweeps`).
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level; found {type(data).__name__}")
    data = expand_sweeps(data, source)
    try:
        return SuiteSpec.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source, model=SuiteSpec)) from None


def read_yaml(path: str | Path, what: str = "suite file") -> Any:
    """Parse a YAML file; a missing file or bad YAML is a one-line :class:`ConfigError`."""
    path = Path(path)
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a {what} (YAML)") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (not UTF-8), expected a {what} (YAML)") from None
    except PermissionError:
        raise ConfigError(f"{path}: cannot read this {what} (permission denied)") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(f"{path}: {where}not valid YAML ({getattr(err, 'problem', err)})") from None


def read_suite_file(path: str | Path) -> SuiteSpec:
    """Read and structurally validate a suite YAML file."""
    return parse_suite(read_yaml(path), str(path))


def suite_files() -> list[Path]:
    """The shipped suite files, sorted (the search-space file is not a suite)."""
    return [p for p in sorted(SUITES_DIR.glob("*.yaml")) if p != SEARCH_SPACES]


def suite_path(name_or_path: str | Path) -> Path:
    """A suite file path: a path as given, else the shipped suite ``<name>``."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return p
    candidate = SUITES_DIR / f"{name_or_path}.yaml"
    if not candidate.exists():
        raise ConfigError(str(UnknownNameError("suite", str(name_or_path), [x.stem for x in suite_files()])))
    return candidate
