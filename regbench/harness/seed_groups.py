"""Seed batches at the harness level: group a plan's runs by everything but the seed, train
each group as one stacked model (regbench.train.seed_batch), record each seed as its own run.

A seed-batched run has the same run key, the same record layout and — up to float rounding
and the dropout masks drawn — the same metrics as the run trained alone; its ``timings``
carry ``seed_batch`` (the group size) as provenance. A group that cannot be batched
(BatchNorm, a plugin declaring ``batchable = False``, input gradients, environment-balanced
batches, checkpoints, compile; regbench.train.seed_batch.batch_blocker), or that gains nothing
from it on this device (regbench.train.seed_batch.no_gain_on), trains its seeds one by one;
their records carry the reason as ``seed_batch_fallback``, and the driver says each reason
once. The local executor's workers take groups and runs from one queue
(:func:`units_of`, :func:`run_unit`); Ray and Slurm get the runs that :func:`batched_records`
(this process) could not batch. docs/architecture.md, "Stages".
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Callable, Iterator

import torch

from regbench.evaluate.classify import NonFiniteEvaluation
from regbench.evaluate.curvature import measured_for
from regbench.harness.plan import RunSpec
from regbench.harness.run_one import (
    build_run,
    environment,
    note_failure,
    ok_record,
    record,
    release_device_memory,
    run_one,
    use_device,
)
from regbench.regularizers.build import build_stack
from regbench.store import RunRecord
from regbench.tasks import task_for
from regbench.train.execution import ExecOptions, intra_op_threads, kernel_mode
from regbench.train.loop import Diverged, resolve_device
from regbench.train.seed_batch import batch_blocker, no_gain_on, train_seed_batch
from regbench.train.stacked_forward import stacked_eval_logits


def group_key(spec: RunSpec) -> str:
    """Everything that identifies a run except its seed (runs with equal keys batch together)."""
    canonical = {k: v for k, v in spec.canonical.items() if k != "seed"}
    return json.dumps([spec.suite, canonical], sort_keys=True, default=str)


def seed_groups(specs: list[RunSpec]) -> list[list[RunSpec]]:
    """The runs grouped by :func:`group_key`, in plan order (a group of one is a plain run)."""
    groups: dict[str, list[RunSpec]] = {}
    for spec in specs:
        groups.setdefault(group_key(spec), []).append(spec)
    return list(groups.values())


def units_of(specs: list[RunSpec]) -> list[tuple[RunSpec, ...]]:
    """The local pool's units of work: each seed group of ``specs`` as one tuple, in plan order."""
    return [tuple(group) for group in seed_groups(specs)]


def run_unit(
    unit: tuple[RunSpec, ...], device: str, options: ExecOptions | None, everywhere: bool = False
) -> list[RunRecord]:
    """The records of one unit: a run, or a seed group trained as one stacked model — or, where
    it cannot be or (unless ``everywhere``) gains nothing on ``device``, its seeds one after
    another, each record saying why in ``timings["seed_batch_fallback"]``. Never raises for a
    run's own failure."""
    if len(unit) == 1:
        return [run_one(unit[0], device, options)]
    options = options or ExecOptions()
    got = _option_blocker(options) or _train_group(list(unit), device, options, everywhere)
    if not isinstance(got, str):
        return got
    recs = [run_one(spec, device, options) for spec in unit]
    for rec in recs:
        rec.timings["seed_batch_fallback"] = got
    return recs


def fallback_note(rec: RunRecord) -> tuple[str, str] | None:
    """(the line to say, its reason) for a record trained apart from its seed group; None when it was not."""
    why = rec.timings.get("seed_batch_fallback")
    return None if why is None else (_fallback(rec.benchmark, rec.regularizer, why), why)


class SayOnce:
    """Prints a line (to stderr) the first time its key is seen: a fallback reason is said for
    the first group it applies to, not again for every other (the ``ood`` suite on CPU has 64)."""

    def __init__(self, write: Callable[[str], None] | None = None):
        self.seen: set[str] = set()
        self.write = write or (lambda line: print(line, file=sys.stderr))

    def __call__(self, message: str, key: str | None = None) -> None:
        key = message if key is None else key
        if key not in self.seen:
            self.seen.add(key)
            self.write(message)


def batched_records(
    specs: list[RunSpec],
    device: str,
    options: ExecOptions | None,
    separate: list[RunSpec],
    say: SayOnce | None = None,
    everywhere: bool = False,
) -> Iterator[RunRecord]:
    """Train the seed groups of ``specs`` batched in this process, yielding each seed's record
    as its group ends — the path for executors whose workers take single runs (Ray, Slurm).

    Runs that cannot be batched, or (unless ``everywhere``) gain nothing from it here, are
    appended to ``separate`` (the caller's executor trains them) and each reason is said once.
    """
    say = say or SayOnce()
    options = options or ExecOptions()
    for group in seed_groups(specs):
        why = _option_blocker(options) if len(group) > 1 else "one seed"
        got = why if why is not None else _train_group(group, device, options, everywhere)
        if isinstance(got, str):
            if len(group) > 1:
                say(_fallback(group[0].benchmark.spec.name, group[0].regularizer.display, got), got)
            separate.extend(group)
        else:
            yield from got


def _fallback(benchmark: str, regularizer: str, why: str) -> str:
    return (
        f"--batch-seeds: {benchmark} × {regularizer} trains its seeds separately: {why} "
        "(and so does every other group this holds for: said once)"
    )


def _option_blocker(options: ExecOptions) -> str | None:
    if options.checkpoint_every:
        return "in-run checkpoints are saved per run"
    if options.compile:
        return "--compile compiles one model per run"
    return None


def _stacked_logits(models: list, results: list, splits) -> dict[int, dict[str, torch.Tensor]]:
    """Every split's logits for all trained (not diverged) models of a group in one stacked
    pass per split, by ``id(model)`` then split name; empty where the models cannot be
    stacked bit-exactly (regbench.train.stacked_forward.stacked_eval_logits) or fewer than two trained."""
    trained = [m for m, r in zip(models, results) if not isinstance(r, Diverged)]
    if len(trained) < 2:
        return {}
    device = next(trained[0].parameters()).device
    named = {"train": splits.train, "val": splits.val, **splits.test_splits()}
    per_model: dict[int, dict[str, torch.Tensor]] = {id(m): {} for m in trained}
    for name, ex in named.items():
        stacked = stacked_eval_logits(trained, ex.x.to(device))
        if stacked is None:
            return {}
        for m, own in zip(trained, stacked):
            per_model[id(m)][name] = own
    return per_model


def _train_group(
    group: list[RunSpec], device: str, options: ExecOptions, everywhere: bool = True
) -> list[RunRecord] | str:
    """The group's records, or why it cannot be batched (a string); unless ``everywhere``, also
    why batching it gains nothing on this device."""
    got = _train_group_here(group, device, options, everywhere)
    release_device_memory()  # the group's tensors are gone by now
    return got


def _train_group_here(
    group: list[RunSpec], device: str, options: ExecOptions, everywhere: bool = True
) -> list[RunRecord] | str:
    """:func:`_train_group`'s work, its tensors local to this call."""
    dev = resolve_device(device)
    kind = "none"
    try:
        use_device(dev)
        stacks = [build_stack(s.regularizer, s.reg_params) for s in group]
        kind = group[0].kind or stacks[0].kind  # the suite row's kind, as run_one records it
        built = [build_run(s, st, dev) for s, st in zip(group, stacks)]
        splits, data = built[0][0], built[0][1]
        models = [m for _, _, m in built]
        why = batch_blocker(models[0], data, stacks[0]) or (
            None if everywhere else no_gain_on(dev, models[0], data, group[0].train)
        )
        if why is None and any(d.train.x is not data.train.x or d.train.y is not data.train.y for _, d, _ in built):
            why = "the training set differs per seed (label noise or bootstrap resampling)"
        if why is not None:
            return why
        # the same intra-op thread count as run_one gives a run, so numbers match separate runs'
        if dev.type == "cuda":  # the group's own peak, not an earlier run's in this worker
            torch.cuda.reset_peak_memory_stats(dev)
        with intra_op_threads(options.threads), kernel_mode(dev, options.deterministic):
            results = train_seed_batch(models, data, stacks, group[0].train, [s.seed for s in group], dev)
            task = task_for(splits.info)
            stacked_start = time.perf_counter()
            logits = _stacked_logits(models, results, splits)
            # each seed's eval_seconds carries its share of the stacked pass it did not time itself
            stacked_share = (time.perf_counter() - stacked_start) / max(len(logits), 1)
            out = []
            for spec, model, result in zip(group, models, results):
                if isinstance(result, Diverged):
                    out.append(
                        record(
                            spec,
                            "diverged",
                            error=str(result),
                            kind=kind,
                            env=environment(dev),
                            timings={"diverged_epoch": result.epoch, "seed_batch": len(group)},
                        )
                    )
                    continue
                try:
                    ev = task.evaluate(
                        model,
                        splits,
                        spec.seed,
                        dev,
                        logits=logits.get(id(model)),
                        measure_curvature=measured_for(kind),
                    )
                    ev.seconds += stacked_share if id(model) in logits else 0.0
                except NonFiniteEvaluation as err:  # this seed's model alone: the others stay ok
                    error = f"{type(err).__name__}: {err}"
                    out.append(record(spec, "failed", error=error, kind=kind, env=environment(dev)))
                    continue
                out.append(ok_record(spec, result, ev, kind, dev, timings={"seed_batch": len(group)}))
            return out
    except Exception as err:  # as run_one: the group's failure is recorded, never fatal to the suite
        note_failure(err, dev)
        tb = traceback.format_exc(limit=-3)
        error = f"{type(err).__name__}: {err}\n{tb}"
        return [record(s, "failed", error=error, kind=kind, env=environment(dev)) for s in group]
