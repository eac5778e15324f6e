"""``regbench run SUITE --sweep N``: train a sweep, select per benchmark on ID validation, write selection.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from regbench.harness.numerics import bind_numerics
from regbench.harness.plan import Plan
from regbench.harness.run_plan import run_plan
from regbench.harness.sweep_plan import labelled_records, sweep_plan
from regbench.report.render.markdown import md
from regbench.report.render.selection_table import selection_table
from regbench.report.table.model_selection import oracle_select, select
from regbench.store import Store
from regbench.sweep import DEFAULT_SPACES


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
    """Train the sweep, select per benchmark on validation, and describe the selection.

    The sweep's runs are registered under ``<suite>-sweep`` only: the selection never replaces
    a row of the suite (its rows are its declared configs; a chosen config is published by
    writing it into the suite file).

    Returns (run counts, the markdown report that was also written to ``out_dir/selection.md``).
    """
    criterion = criterion or plan.suite.selection
    swept, candidates = sweep_plan(plan, n, sweep_seed, spaces_path)
    swept = bind_numerics(swept, **run_args)  # the keys run_plan trains under, to read them back
    counts = run_plan(swept, store, **run_args)
    records = labelled_records(store, swept)
    counts["planned_keys"] = [r.run_key for r in swept.runs]  # for the exit status
    counts["statuses"] = store.statuses(counts["planned_keys"])
    # every candidate, the selected ones included, stays registered under the sweep's own name
    # (<suite>-sweep): the suite's rows remain exactly its declared configs
    chosen = select(records, candidates, criterion)
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
            "No config finished on every seed (no selection): " + md(", ".join(f"{b}/{base}" for b, base in missing)),
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
