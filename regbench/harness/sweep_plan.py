"""The plan of a sweep: every candidate config of ``run SUITE --sweep N``, and its records by label.

Training, selection and publishing are :mod:`regbench.commands.run_sweep`'s. Every candidate
is recorded under the suite ``<suite>-sweep`` only, never as the suite's own row; the choice
with its reasons is written to ``leaderboard/<suite>/selection.md`` and ``selection.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from regbench.harness.plan import Plan, plan_suite
from regbench.store import Store
from regbench.sweep import DEFAULT_SPACES, expand, load_spaces


def sweep_plan(plan: Plan, n: int, sweep_seed: int = 0, spaces_path: str | Path = DEFAULT_SPACES):
    """The plan's configs (as restricted by --regularizers/--seeds) expanded into candidates.

    Returns (swept plan, candidates: base display → candidate labels).
    """
    configs = tuple({r.regularizer.display: r.regularizer for r in plan.runs}.values())
    seeds = tuple(s for s in plan.suite.seeds if s in {r.seed for r in plan.runs})
    suite = plan.suite.model_copy(update={"regularizers": configs, "seeds": seeds})
    swept, candidates = expand(suite, load_spaces(spaces_path), n, sweep_seed)
    swept = swept.with_not_applicable_renamed(candidates)  # a pair that cannot run: none of its candidates can
    return plan_suite(swept, plan.source), candidates


def labelled_records(store: Store, plan: Plan) -> list[dict[str, Any]]:
    """The store's records of ``plan``'s runs, labelled with this plan's benchmark and config
    names (a run reused from elsewhere keeps the name it was first recorded under), each with
    ``val_n``: the size of its validation split (None when not recorded)."""
    keys = {r.run_key for r in plan.runs}
    recs = {r["run_key"]: r for r in store.records(keys)}
    val_n = store.split_sizes(keys, "val")
    out = []
    for r in plan.runs:
        if r.run_key in recs:
            out.append(
                {
                    **recs[r.run_key],
                    "benchmark": r.benchmark.spec.name,
                    "regularizer": r.regularizer.display,
                    "seed": r.seed,
                    "val_n": val_n.get(r.run_key),
                }
            )
    return out
