"""``regbench run SUITE --sweep N``: train every candidate config, select on validation, publish.

The selected run of each (benchmark, regularizer) becomes the suite's member under the
regularizer's own name, so ``regbench leaderboard SUITE`` shows the selected config's test
numbers; every candidate stays recorded under the suite ``<suite>-sweep``. The selection
table (and, with ``--oracle``, the separately labelled oracle table) is written to
``leaderboard/<suite>/selection.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from regbench.plan import Plan, plan_suite
from regbench.selection import oracle_select, select, selection_table
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
    return plan_suite(swept, plan.source), candidates


def labelled_records(store: Store, plan: Plan) -> list[dict[str, Any]]:
    """The store's records of ``plan``'s runs, labelled with this plan's benchmark and config
    names (a run reused from elsewhere keeps the name it was first recorded under)."""
    recs = {r["run_key"]: r for r in store.records({r.run_key for r in plan.runs})}
    out = []
    for r in plan.runs:
        if r.run_key in recs:
            out.append(
                {
                    **recs[r.run_key],
                    "benchmark": r.benchmark.spec.name,
                    "regularizer": r.regularizer.display,
                    "seed": r.seed,
                }
            )
    return out


def run_sweep(
    plan: Plan,
    store: Store,
    n: int,
    sweep_seed: int = 0,
    criterion: str | None = None,
    oracle: bool = False,
    spaces_path: str | Path = DEFAULT_SPACES,
    out_dir: Path | None = None,
    **run_args: Any,
) -> tuple[dict[str, int], str]:
    """Train the sweep, select per benchmark on validation, record and describe the selection.

    Returns (run counts, the markdown report that was also written to ``out_dir/selection.md``).
    """
    from regbench.runner import run_plan

    criterion = criterion or plan.suite.selection
    swept, candidates = sweep_plan(plan, n, sweep_seed, spaces_path)
    counts = run_plan(swept, store, **run_args)
    records = labelled_records(store, swept)
    chosen = select(records, candidates, criterion)
    # the selected runs become the suite's members under the base name (the leaderboard row)
    store.add_to_suite(
        plan.suite.name,
        [(key, s.benchmark, s.regularizer, seed) for s in chosen.values() for key, seed in zip(s.run_keys, s.seeds)],
    )
    lines = [
        f"# Sweep of suite {plan.suite.name}: model selection by ID validation",
        "",
        f"{n} configs per regularizer (sweep seed {sweep_seed}; config 0 = defaults), "
        f"{len(swept.runs)} runs ({counts['reused']} reused). Selected per benchmark by mean "
        f"**{criterion}** over seeds {list(swept.suite.seeds)} on the ID validation split; the test "
        "numbers shown are those of the selected runs and played no part in the choice.",
        "",
        selection_table(chosen, records, criterion),
    ]
    missing = sorted(
        {(b, base) for b in {r.benchmark.spec.name for r in swept.runs} for base in candidates} - set(chosen)
    )
    if missing:
        lines += [
            "",
            "No config finished on every seed (no selection): " + ", ".join(f"{b}/{base}" for b, base in missing),
        ]
    if oracle:
        lines += [
            "",
            "## Oracle selection (test-domain) — NOT a valid model-selection method",
            "",
            "Chosen by mean OOD *test* accuracy, i.e. by looking at the test splits. Shown only to "
            "measure how much such peeking would gain; it is not used in the leaderboard's ranking.",
            "",
            selection_table(oracle_select(records, candidates), records, "OOD test acc"),
        ]
    text = "\n".join(lines) + "\n"
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / "selection.md").write_text(text)
    return counts, text
