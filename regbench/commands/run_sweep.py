"""``regbench run SUITE --sweep N``: train a sweep, select on ID validation, publish the choice and its reasons.

Writes ``selection.md`` (the chosen configs, every candidate and why) and ``selection.json``
into ``out_dir`` (default ``leaderboard/<suite>/``) and, with ``emit_yaml``, the suite's
``regularizers:`` rows of the chosen configs with generated comments. The sweep's runs are
recorded under ``<suite>-sweep`` only: a choice never replaces the suite's own rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from regbench.harness.numerics import bind_numerics
from regbench.harness.plan import Plan
from regbench.harness.run_plan import run_plan
from regbench.harness.sweep_plan import labelled_records, sweep_plan
from regbench.report.render.markdown import md
from regbench.report.render.selection_report import choices_markdown, selection_json, yaml_rows
from regbench.report.render.selection_table import selection_table
from regbench.report.table.model_selection import oracle_select
from regbench.report.table.selection_rule import choose
from regbench.store import Store
from regbench.sweep import DEFAULT_SPACES, load_spaces

RULE_TEXT = {
    "val_accuracy": "the best mean ID validation accuracy",
    "val_loss": "the lowest mean ID validation NLL",
    "one_se": (
        "the one-standard-error rule: among the candidates whose mean ID validation accuracy is within one "
        "binomial SE of the best mean (the SE of the best candidate's mean, from each run's validation size), "
        "the one whose training-side mechanism number changes most in the mechanism's direction against erm's "
        "at the same benchmark and seed (mean signed change; ties to the earlier candidate); the best mean where "
        "there is no mechanism number (regbench/report/table/selection_rule.py)"
    ),
}


def suite_row(cfg, label: str) -> dict[str, Any] | str:
    """A regularizer config as a suite YAML row under ``label`` (a bare name when it is just that)."""
    if len(cfg.stack) == 1 and not cfg.stack[0].params and cfg.stack[0].name == label:
        return label
    stack = [{"name": s.name, **s.params} if s.params else s.name for s in cfg.stack]
    return {"stack": stack, "label": label}


def space_text(spaces, name: str) -> str:
    """``lam ~ log_uniform[1e-05, 0.1]``: a regularizer's search space in words."""
    parts = []
    for p, sp in spaces.search_spaces.get(name, {}).items():
        for dist in ("log_uniform", "uniform", "int_range", "choice"):
            value = getattr(sp, dist)
            if value is not None:
                parts.append(f"{p} ~ {dist.replace('_range', '')}[{', '.join(map(str, value))}]")
    return ", ".join(parts)


def run_sweep(
    plan: Plan,
    store: Store,
    n: int,
    sweep_seed: int = 0,
    criterion: str | None = None,
    oracle: bool = False,
    spaces_path: str | Path = DEFAULT_SPACES,
    out_dir: Path | None = None,
    per_suite: bool = False,
    emit_yaml: Path | None = None,
    **run_args: Any,
) -> tuple[dict[str, int], str]:
    """Train the sweep, select on validation (per benchmark, or one config per regularizer for
    the whole suite with ``per_suite``), describe the choice with its reasons.

    ``criterion``: ``val_accuracy`` | ``val_loss`` | ``one_se`` (default: the suite's).
    Returns (run counts, the markdown report that was also written to ``out_dir/selection.md``,
    beside ``selection.json``).
    """
    criterion = criterion or plan.suite.selection
    swept, candidates = sweep_plan(plan, n, sweep_seed, spaces_path)
    swept = bind_numerics(swept, **run_args)  # the keys run_plan trains under, to read them back
    counts = run_plan(swept, store, **run_args)
    records = labelled_records(store, swept)
    counts["planned_keys"] = [r.run_key for r in swept.runs]  # for the exit status
    counts["statuses"] = store.statuses(counts["planned_keys"])
    choices = choose(records, candidates, criterion, per_suite)
    base_of = {label: base for base, labels in candidates.items() for label in labels}
    rows = {r.regularizer.display: suite_row(r.regularizer, base_of[r.regularizer.display]) for r in swept.runs}
    spaces = load_spaces(spaces_path)
    # the chosen runs are NOT added to the suite's own rows: the leaderboard shows the suite's
    # declared configs; the sweep's runs stay under "<suite>-sweep" (run_plan records them there)
    scope = "one config per regularizer for all benchmarks" if per_suite else "per benchmark"
    seeds = list(swept.suite.seeds)
    lines = [
        f"# Sweep of suite {plan.suite.name}: model selection by ID validation",
        "",
        f"{n} configs per regularizer (sweep seed {sweep_seed}; config 0 = defaults), "
        f"{len(swept.runs)} runs ({counts['reused']} reused), recorded under the suite `{swept.suite.name}`. "
        f"Selected {scope}, over seeds {seeds}, by {RULE_TEXT[criterion]}. "
        "The test numbers shown are those of the selected runs and played no part in the choice.",
        "",
        selection_table({k: c.selection() for k, c in choices.items()}, records, criterion),
        "",
        "## Candidates and reasons",
        "",
        choices_markdown(choices, rows),
    ]
    if per_suite:
        block = yaml_rows(list(choices.values()), rows, {b: space_text(spaces, b) for b in candidates})
        lines += ["## Suite rows (generated)", "", "```yaml", block.rstrip(), "```"]
        if emit_yaml is not None:
            Path(emit_yaml).write_text(block)
    missing = (
        sorted({base for base in candidates} - {base for _, base in choices})
        if per_suite
        else sorted(
            {(b, base) for b in {r.benchmark.spec.name for r in swept.runs} for base in candidates} - set(choices)
        )
    )
    if missing:
        lines += [
            "",
            "No config finished on every seed (no selection): "
            + md(", ".join(m if isinstance(m, str) else f"{m[0]}/{m[1]}" for m in missing)),
        ]
    if oracle:
        lines += [
            "",
            "## Oracle selection (test-domain) — NOT a valid model-selection method",
            "",
            "Chosen per benchmark by mean OOD *test* accuracy, i.e. by looking at the test splits. Shown only "
            "to measure how much such peeking would gain; it is not used in the leaderboard's ranking.",
            "",
            selection_table(oracle_select(records, candidates), records, "OOD test acc"),
        ]
    text = "\n".join(lines) + "\n"
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / "selection.md").write_text(text)
        meta = {
            "suite": plan.suite.name,
            "sweep_suite": swept.suite.name,
            "configs_per_regularizer": n,
            "sweep_seed": sweep_seed,
            "seeds": seeds,
            "rule": criterion,
            "rule_text": RULE_TEXT[criterion],
            "per_suite": per_suite,
        }
        payload = selection_json(choices, rows, meta)
        (Path(out_dir) / "selection.json").write_text(json.dumps(payload, indent=1) + "\n")
    return counts, text
