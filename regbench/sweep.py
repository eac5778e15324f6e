"""Hyper-parameter search spaces and sweep expansion (docs/architecture.md, Conventions: Search spaces; DomainBed's hparams_registry).

``suites/regularizers.yaml`` gives each standard regularizer's parameters a default and a
distribution. A sweep of N draws N configs per regularizer: config 0 is the defaults, config
i > 0 draws each parameter from its own generator seeded with
``derive_seed(sweep_seed, regularizer, parameter, i)`` — adding a parameter or a regularizer
never changes anyone else's draws (DomainBed issues #16, #169). When every parameter is
discrete and the grid has at most N points, the grid is used instead.

Each config becomes its own :class:`RegularizerConfig` labelled ``mixup[sweep 3]``; labels
are not part of the run key, so the defaults config reuses the suite's plain ``mixup`` runs
and re-running a sweep reuses every finished config.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from regbench.catalog.signatures import signature_of
from regbench.config import (
    SEARCH_SPACES,
    ConfigError,
    RegularizerConfig,
    RegularizerSpec,
    SuiteSpec,
    format_validation_error,
    read_yaml,
)
from regbench.params import params_model, resolve_params
from regbench.registry import UnknownNameError
from regbench.seeding import numpy_generator

DEFAULT_SPACES = SEARCH_SPACES
DISTRIBUTIONS = ("log_uniform", "uniform", "int", "choice")


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ParamSpace(Frozen):
    """One hyper-parameter: its default and at most one distribution (none = fixed)."""

    default: Any
    log_uniform: tuple[float, float] | None = None
    uniform: tuple[float, float] | None = None
    int_range: tuple[int, int] | None = None  # YAML key "int": inclusive bounds
    choice: tuple[Any, ...] | None = None

    @model_validator(mode="before")
    @classmethod
    def _int_key(cls, v: Any) -> Any:
        if isinstance(v, dict) and "int" in v:
            v = {**{k: x for k, x in v.items() if k != "int"}, "int_range": v["int"]}
        return v

    @model_validator(mode="after")
    def _check(self) -> ParamSpace:
        given = [d for d in ("log_uniform", "uniform", "int_range", "choice") if getattr(self, d) is not None]
        if len(given) > 1:
            raise ValueError(f"give one distribution, not {len(given)} ({', '.join(given)})")
        for name in ("log_uniform", "uniform", "int_range"):
            bounds = getattr(self, name)
            if bounds is None:
                continue
            lo, hi = bounds
            if not lo < hi:
                raise ValueError(f"{name}: lower bound {lo} must be below upper bound {hi}")
            if name == "log_uniform" and lo <= 0:
                raise ValueError(f"log_uniform: bounds must be positive, got {lo}")
            if not (isinstance(self.default, (int, float)) and lo <= self.default <= hi):
                raise ValueError(f"default {self.default!r} is outside {name} [{lo}, {hi}]")
        if self.choice is not None:
            if len(self.choice) == 0:
                raise ValueError("choice: needs at least one value")
            if self.default not in self.choice:
                raise ValueError(f"default {self.default!r} is not one of choice {list(self.choice)}")
        return self

    @property
    def discrete(self) -> list[Any] | None:
        """All values when finite (int range, choice, fixed), else None."""
        if self.choice is not None:
            return list(self.choice)
        if self.int_range is not None:
            return list(range(self.int_range[0], self.int_range[1] + 1))
        if self.log_uniform is None and self.uniform is None:
            return [self.default]
        return None

    def sample(self, rng) -> Any:
        """One draw from ``rng`` (a numpy Generator); floats rounded to 3 significant digits,
        so that labels stay readable and run keys do not depend on float printing."""
        if self.log_uniform is not None:
            lo, hi = self.log_uniform
            return float(f"{10 ** rng.uniform(math.log10(lo), math.log10(hi)):.3g}")
        if self.uniform is not None:
            return float(f"{rng.uniform(*self.uniform):.3g}")
        if self.int_range is not None:
            return int(rng.integers(self.int_range[0], self.int_range[1] + 1))
        if self.choice is not None:
            return self.choice[int(rng.integers(len(self.choice)))]
        return self.default


class SearchSpaces(Frozen):
    """The whole file: ``search_spaces: {regularizer: {param: ParamSpace}}``."""

    search_spaces: dict[str, dict[str, ParamSpace]]


def load_spaces(path: str | Path = DEFAULT_SPACES) -> SearchSpaces:
    """Read and validate a search-space file: structure, then names and parameter types
    against the registry (one line per problem: file, field path, what was expected).

    A parameter's ``default`` is the regularizer's own (its constructor's default): the file
    gives only the distribution, so the strength a suite runs with is written in one place.
    """
    path = Path(path)
    data = fill_defaults(read_yaml(path, "search-space file"))
    try:
        spaces = SearchSpaces.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, str(path))) from None
    errors = []
    for name, params in spaces.search_spaces.items():
        try:
            cls = signature_of(name)
        except (UnknownNameError, ImportError) as err:
            errors.append(f"{path}: search_spaces.{name}: {err}")
            continue
        fields = params_model(cls).model_fields
        for pname, space in params.items():
            own = fields[pname].default if pname in fields and not fields[pname].is_required() else space.default
            if space.default != own:
                errors.append(
                    f"{path}: search_spaces.{name}.{pname}.default: {space.default!r} differs from {name}'s own "
                    f"default {own!r}; the constructor's default is the one source, leave `default:` out"
                )
                continue
            values = space.discrete or [space.default, *(space.log_uniform or space.uniform or ())]
            for value in values:
                try:
                    resolve_params(cls, {pname: value})
                except ValidationError as err:
                    errors.append(format_validation_error(err, str(path), ("search_spaces", name)))
                    break
    if errors:
        raise ConfigError("\n".join(errors))
    return spaces


def fill_defaults(data: Any) -> Any:
    """The search-space mapping with each parameter's ``default`` taken from its regularizer's
    constructor where the file leaves it out (unknown names are left for validation to report)."""
    spaces = data.get("search_spaces") if isinstance(data, dict) else None
    if not isinstance(spaces, dict):
        return data
    filled = {}
    for name, params in spaces.items():
        try:
            fields = params_model(signature_of(name)).model_fields
        except (UnknownNameError, ImportError, TypeError):
            fields = {}
        if isinstance(params, dict):
            params = {
                p: {"default": fields[p].default, **space}
                if isinstance(space, dict) and "default" not in space and p in fields and not fields[p].is_required()
                else space
                for p, space in params.items()
            }
        filled[name] = params
    return {**data, "search_spaces": filled}


def draw_configs(space: dict[str, ParamSpace], regularizer: str, n: int, sweep_seed: int = 0) -> list[dict]:
    """Up to ``n`` distinct parameter dicts: the grid when discrete and ≤ n points, else
    config 0 = defaults and configs 1..n-1 drawn at random (duplicates dropped)."""
    if n < 1:
        raise ValueError(f"--sweep needs N ≥ 1, got {n}")
    names = list(space)
    grids = [space[p].discrete for p in names]
    if all(g is not None for g in grids) and math.prod(len(g) for g in grids) <= n:
        default = {p: space[p].default for p in names}
        grid = [dict(zip(names, values)) for values in itertools.product(*grids)]
        return [default] + [g for g in grid if g != default]  # defaults first: they win ties
    out: list[dict] = []
    for i in range(n):
        if i == 0:
            cfg = {p: space[p].default for p in names}
        else:
            cfg = {p: space[p].sample(numpy_generator(sweep_seed, regularizer, p, i)) for p in names}
        if cfg not in out:
            out.append(cfg)
    return out


def expand(
    suite: SuiteSpec,
    spaces: SearchSpaces,
    n: int,
    sweep_seed: int = 0,
) -> tuple[SuiteSpec, dict[str, list[str]]]:
    """The suite with each swept regularizer replaced by its candidates, and the candidates
    of each base config (``{"mixup": ["mixup[sweep 0]", …]}``; unswept configs map to themselves).

    Only single-member configs named in the search spaces are swept; their own YAML params are
    the starting point and drawn params override them.
    """
    configs: list[RegularizerConfig] = []
    candidates: dict[str, list[str]] = {}
    for cfg in suite.regularizers:
        space = spaces.search_spaces.get(cfg.stack[0].name) if len(cfg.stack) == 1 else None
        if not space:
            configs.append(cfg)
            candidates[cfg.display] = [cfg.display]
            continue
        base = cfg.stack[0]
        labels = []
        for i, params in enumerate(draw_configs(space, base.name, n, sweep_seed)):
            label = f"{cfg.display}[sweep {i}]"
            spec = RegularizerSpec(name=base.name, params={**base.params, **params})
            configs.append(RegularizerConfig(stack=(spec,), label=label))
            labels.append(label)
        candidates[cfg.display] = labels
    swept = suite.model_copy(update={"name": f"{suite.name}-sweep", "regularizers": tuple(configs)})
    return swept, candidates
