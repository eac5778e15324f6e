"""Typed, frozen, validated suite configuration (docs/architecture.md, Suites, docs/architecture.md, Conventions: Parameters).

``spec`` holds the pydantic models of a suite; ``loading`` turns a file into one (YAML, sweep
expansion, one-line validation errors) and finds the shipped suites. Everything is importable
from ``regbench.config`` itself.
"""

from regbench.config.loading import (
    SEARCH_SPACES,
    SUITES_DIR,
    SWEEP_FIELD,
    ConfigError,
    expand_sweeps,
    format_validation_error,
    load_yaml_text,
    model_at,
    parse_suite,
    read_suite_file,
    read_yaml,
    suite_files,
    suite_folder,
    suite_path,
)
from regbench.config.spec import (
    PRIMARY_METRICS,
    BenchmarkSpec,
    BudgetCurveSpec,
    Frozen,
    RegularizerConfig,
    RegularizerSpec,
    ShiftSpec,
    SuiteSpec,
    TrainSpec,
    check_path_component,
)

__all__ = [
    "BudgetCurveSpec",
    "PRIMARY_METRICS",
    "SEARCH_SPACES",
    "SUITES_DIR",
    "SWEEP_FIELD",
    "BenchmarkSpec",
    "ConfigError",
    "Frozen",
    "RegularizerConfig",
    "RegularizerSpec",
    "ShiftSpec",
    "SuiteSpec",
    "TrainSpec",
    "check_path_component",
    "expand_sweeps",
    "format_validation_error",
    "load_yaml_text",
    "model_at",
    "parse_suite",
    "read_suite_file",
    "read_yaml",
    "suite_files",
    "suite_folder",
    "suite_path",
]
