"""Which regularizer configs can run on which benchmark, and what each row of a suite adds.

A (benchmark, regularizer config) pair cannot run when a member does not apply to the
benchmark's task or input modality, or needs training environments the benchmark lacks.
Such a pair stops the suite when it loads, one line per pair, unless the suite declares it
under the benchmark's ``not_applicable``: then it is not planned and the leaderboard shows
"n/a" there. A declared pair that can run is refused too, so "n/a" always means "cannot run".
"""

from __future__ import annotations

import difflib

from regbench.catalog.planning import registered_loader, registered_shift
from regbench.catalog.stacks import stack_of
from regbench.config import SuiteSpec

BASELINE = "erm"  # the row every leaderboard compares against
# members whose parameters fix the number of training environments they are defined for:
# name → params → that number (None: any number ≥ 2). V-REx's ``form: squared_difference`` is
# the REx paper's (R1 - R2)², defined for two environments (regularizers/vrex.py raises on others)
EXACT_ENVS = {"vrex": lambda p: 2 if p.get("form") == "squared_difference" else None}
BASELINE_KIND = "baseline"  # the kind shown for the row(s) that add nothing to the shared base


def dataset_task(loader: str) -> str:
    """The task a registered dataset loader declares (regbench.data.register_dataset), without loading data."""
    return registered_loader(loader).task


def dataset_modality(loader: str) -> str:
    """The input modality a registered dataset loader declares (image, audio or text), without loading data."""
    return getattr(registered_loader(loader), "modality", "image")


def _verb(names: list[str]) -> str:
    return "does" if len(names) == 1 else "do"


def pair_problems(suite: SuiteSpec, benches, regs) -> dict[tuple[int, int], list[str]]:
    """(benchmark index, config index) → why the config cannot run there (empty: it can).

    benches: resolved benchmarks; regs: each config's resolved member params.
    """
    out: dict[tuple[int, int], list[str]] = {}
    for i, rb in enumerate(benches):
        task, modality = dataset_task(rb.loader), dataset_modality(rb.loader)
        shift = registered_shift(rb.spec.shift.kind)(rb.shift_params)
        envs = shift.training_envs()
        if shift.keeps_dataset_envs:  # e.g. WILDS' own groups through `predefined`
            declared = getattr(registered_loader(rb.loader), "training_envs", lambda **_: 1)
            envs = max(envs, declared(**rb.dataset_args))
        for j, (cfg, params) in enumerate(zip(suite.regularizers, regs)):
            stack = stack_of(cfg, params)
            bad = stack.unsupported(task)
            wrong_input = [n for n in stack.unsupported(task, modality) if n not in bad]
            needy = [m.name for m in stack.members if m.needs_envs] if envs < 2 else []
            exact = [
                (spec.name, n)
                for spec, p in zip(cfg.stack, params)
                if (n := EXACT_ENVS.get(spec.name, lambda _: None)(p)) is not None and envs >= 2 and envs != n
            ]
            why = []
            if wrong_input:
                why.append(
                    f"{', '.join(wrong_input)} {_verb(wrong_input)} not apply to {modality} inputs "
                    f"(dataset '{rb.spec.dataset}'; see `regbench list regularizers`)"
                )
            if bad:
                why.append(
                    f"{', '.join(bad)} {_verb(bad)} not apply to a {task} task (see `regbench list regularizers`)"
                )
            if needy:
                why.append(
                    f"{', '.join(needy)} needs training environments and this benchmark has {envs} "
                    "(use a shift that declares them, e.g. colored_mnist, rotated or shape_domains)"
                )
            for name, n in exact:
                why.append(
                    f"{name} with these parameters is defined for exactly {n} training environments and this "
                    f"benchmark has {envs} (V-REx's form: squared_difference is the paper's (R1 - R2)^2)"
                )
            if why:
                out[i, j] = why
    return out


def check_pairs(suite: SuiteSpec, benches, regs, source: str, errors: list[str]) -> set[tuple[int, int]]:
    """Append one error per undeclared pair that cannot run, per declared pair that can, and per
    unknown label in ``not_applicable``; return the declared (benchmark, config) index pairs."""
    labels = [cfg.display for cfg in suite.regularizers]
    problems = pair_problems(suite, benches, regs)
    declared = set()
    for i, b in enumerate(suite.benchmarks):
        for label in b.not_applicable:
            where = f"{source}: benchmarks[{i}].not_applicable.{label}"
            if label not in labels:
                close = difflib.get_close_matches(label, labels, n=3, cutoff=0.5)
                hint = f" Did you mean: {', '.join(close)}?" if close else ""
                errors.append(f"{where}: no regularizer config of this suite is labelled '{label}'.{hint}")
            elif (i, labels.index(label)) not in problems:
                errors.append(
                    f"{where}: '{label}' can run on '{b.name}'; not_applicable is for pairs that cannot (remove it)"
                )
            else:
                declared.add((i, labels.index(label)))
    for (i, j), why in sorted(problems.items()):
        if (i, j) in declared:
            continue
        for reason in why:
            errors.append(
                f"{source}: regularizers[{j}]: '{labels[j]}' cannot run on benchmarks[{i}] "
                f"'{suite.benchmarks[i].name}': {reason}; or, to show it as n/a, declare "
                f"benchmarks[{i}].not_applicable: [{labels[j]}]"
            )
    return declared


def row_kinds(suite: SuiteSpec, regs) -> list[str]:
    """Per config: what the row adds, as a kind. The shared base is the longest stack prefix
    common to every config (none with one config); a row that adds nothing to it, or is
    labelled erm, is the baseline; one that adds members of one kind has that kind; mixed
    kinds are a recipe. So a suite whose every row carries ``l2`` shows erm = [l2] as the
    baseline and [l2, weight_decay] as an optimizer, not as a penalty and a recipe."""
    stacks = [cfg.stack for cfg in suite.regularizers]
    base = 0
    if len(stacks) > 1:
        while all(len(s) > base for s in stacks) and all(s[base] == stacks[0][base] for s in stacks):
            base += 1
    out = []
    for cfg, params in zip(suite.regularizers, regs):
        added = stack_of(cfg, params).members[base:]
        kinds = {m.kind for m in added if m.kind != "none"}
        if cfg.display == BASELINE or not kinds:
            out.append(BASELINE_KIND)
        else:
            out.append(kinds.pop() if len(kinds) == 1 else "recipe")
    return out
