"""From a file to a :class:`~regbench.config.spec.SuiteSpec`: YAML, sweep expansion, validation
errors one line per problem, and where the shipped suites are (docs/architecture.md, Suites)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from regbench.config.spec import SuiteSpec, check_path_component
from regbench.params import MODELS, did_you_mean
from regbench.registry import UnknownNameError, UserError


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
            lines.append(f"{source}: {loc}: expected {msg}; found {_short_repr(found)}")
    return "\n".join(lines)


MAX_FOUND = 200  # characters of a wrong value quoted in an error line


def _short_repr(value: Any) -> str:
    """``repr(value)``, cut to :data:`MAX_FOUND` characters: an error line quotes a wrong value,
    it does not reprint a large one."""
    text = repr(value)
    return text if len(text) <= MAX_FOUND else text[: MAX_FOUND - 1] + "…"


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


MAX_YAML_VALUES = 100_000  # scalars, lists and mappings of a document once its aliases are expanded
MAX_YAML_DEPTH = 100  # lists and mappings inside each other


class YamlLimitError(yaml.YAMLError):
    """A YAML document over :data:`MAX_YAML_VALUES` or :data:`MAX_YAML_DEPTH`."""


class LimitedLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader with two limits, checked on the node graph before any Python object is
    built: nesting depth (a deeply nested file would exhaust Python's recursion) and the number of
    values once aliases are expanded (``*a`` repeats ``&a``'s whole value: a few hundred bytes of
    nested aliases stand for billions of values, which every later step, error messages included,
    would spell out). A recursive alias has no finite expansion and is refused too."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise YamlLimitError(f"nested more than {MAX_YAML_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self):
        node = super().compose_document()
        sizes: dict[int, int] = {}  # id(node) → its expanded size: a node an alias repeats counts once per use

        def size(n, open_: frozenset) -> int:
            if id(n) in sizes:
                return sizes[id(n)]
            if id(n) in open_:
                raise YamlLimitError("an alias refers to a value that contains it (recursive)")
            inner = open_ | {id(n)}
            if isinstance(n, yaml.SequenceNode):
                total = 1 + sum(size(c, inner) for c in n.value)
            elif isinstance(n, yaml.MappingNode):
                total = 1 + sum(size(k, inner) + size(v, inner) for k, v in n.value)
            else:
                total = 1
            if total > MAX_YAML_VALUES:
                raise YamlLimitError(f"more than {MAX_YAML_VALUES:,} values once its aliases (*name) are expanded")
            sizes[id(n)] = total
            return total

        if node is not None:
            size(node, frozenset())
        return node


def load_yaml_text(text: str) -> Any:
    """``text`` parsed as YAML, safely (no Python objects) and within :class:`LimitedLoader`'s
    limits; YAMLError (YamlLimitError over a limit) otherwise."""
    loader = LimitedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def read_yaml(path: str | Path, what: str = "suite file") -> Any:
    """Parse a YAML file; a missing file, bad YAML or a document over the size or depth limit
    (:class:`LimitedLoader`) is a one-line :class:`ConfigError`."""
    path = Path(path)
    try:
        return load_yaml_text(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a {what} (YAML)") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (not UTF-8), expected a {what} (YAML)") from None
    except PermissionError:
        raise ConfigError(f"{path}: cannot read this {what} (permission denied)") from None
    except YamlLimitError as err:
        raise ConfigError(f"{path}: refused: {err}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(f"{path}: {where}not valid YAML ({getattr(err, 'problem', err)})") from None


def read_suite_file(path: str | Path) -> SuiteSpec:
    """Read and structurally validate a suite YAML file."""
    return parse_suite(read_yaml(path), str(path))


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


def suite_files() -> list[Path]:
    """The shipped suite files, sorted (the search-space file is not a suite)."""
    return [p for p in sorted(SUITES_DIR.glob("*.yaml")) if p != SEARCH_SPACES]


def suite_folder(name_or_path: str | Path) -> str:
    """The folder a suite's reports go in under ``leaderboard/``: its file's stem (or its name),
    one path component like a suite name, so ``...yaml`` (stem ``..``) or ``sub/..yaml`` (stem
    ``.``) cannot point the reports at the working folder or at ``leaderboard/`` itself."""
    try:
        return check_path_component(Path(name_or_path).stem, "a suite file's name (without .yaml)")
    except ValueError as err:
        raise ConfigError(f"{name_or_path}: {err}") from None


def suite_path(name_or_path: str | Path) -> Path:
    """A suite file path: a path as given (its name checked by :func:`suite_folder`), else the
    shipped suite ``<name>``."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        suite_folder(p)
        return p
    candidate = SUITES_DIR / f"{name_or_path}.yaml"
    if not candidate.exists():
        raise ConfigError(str(UnknownNameError("suite", str(name_or_path), [x.stem for x in suite_files()])))
    return candidate
