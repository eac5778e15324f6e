"""A suite's budget curve: a few of its rows retrained at other epoch counts (``budget_curve:``).

A regularizer that needs a longer budget than the suite's (SpecAugment on a short schedule
underfits; Park et al. 2019 trained until the baseline overfit) looks harmful at one budget
and helpful at another. The curve shows which: the suite declares
``budget_curve: {epochs: [10, 20, 40], regularizers: [erm, specaugment]}`` and ``regbench run``
trains those rows at each budget beside the suite's own runs, and the leaderboard plots their
OOD and ID accuracy against epochs (``report.budget_curve``).

The curve is a suite of its own, ``<name>-budget``: one benchmark per (benchmark, budget),
named ``<benchmark>.e<epochs>``, whose ``train`` override sets the epochs. Those runs are
registered under that name, so they never join the suite's ranking; a run at the suite's own
budget has the same run key as the suite's run (a key holds the data, model, regularizer,
training and seed, not the benchmark's name) and is reused, not retrained.
"""

from __future__ import annotations

from dataclasses import replace

from regbench.config import SuiteSpec
from regbench.harness.plan import Plan, plan_suite


def budget_suite(suite: SuiteSpec) -> SuiteSpec | None:
    """The suite of ``suite``'s budget curve (module docstring); None when it declares none."""
    curve = suite.budget_curve
    if curve is None:
        return None
    rows = tuple(r for r in suite.regularizers if r.display in curve.regularizers)
    benches = tuple(
        b.model_copy(
            update={
                "name": curve.benchmark_name(b.name, epochs),
                "train": {**b.train, "epochs": epochs},
                "not_applicable": {k: why for k, why in b.not_applicable.items() if k in curve.regularizers},
            }
        )
        for b in suite.benchmarks
        for epochs in curve.epochs
    )
    return suite.model_copy(
        update={"name": curve.suite_name(suite.name), "benchmarks": benches, "regularizers": rows, "budget_curve": None}
    )


def budget_plan(plan: Plan) -> Plan | None:
    """The runs of ``plan``'s budget curve, restricted to the rows and seeds ``plan`` kept
    (``--regularizers`` / ``--seeds``); None when the suite declares no curve or none is left."""
    suite = budget_suite(plan.suite)
    if suite is None:
        return None
    rows = {r.regularizer.display for r in plan.runs}
    seeds = {r.seed for r in plan.runs}
    curve = plan_suite(suite, f"{plan.source}: budget_curve")
    runs = tuple(r for r in curve.runs if r.regularizer.display in rows and r.seed in seeds)
    return replace(curve, runs=runs) if runs else None
