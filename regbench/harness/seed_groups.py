"""Seed batches at the harness level: group a plan's runs by everything but the seed, train
each group as one stacked model (regbench.train.seed_batch), record each seed as its own run.

A seed-batched run has the same run key, the same record layout and — up to float rounding
and the dropout masks drawn — the same metrics as the run trained alone; its ``timings``
carry ``seed_batch`` (the group size) as provenance. Groups that cannot be batched (BatchNorm,
a plugin declaring ``batchable = False``, input gradients, environment-balanced batches,
checkpoints, compile; regbench.train.seed_batch.batch_blocker) are handed back to the
executor as separate runs, and each reason is said once. With a local pool of several
workers, the groups train in as many processes at once. docs/architecture.md, "Stages".
"""

from __future__ import annotations

import json
import multiprocessing as mp
import sys
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed

from regbench.harness.plan import RunSpec
from regbench.harness.run_one import build_run, environment, ok_record, record
from regbench.regularizers.build import build_stack
from regbench.store import RunRecord
from regbench.tasks import task_for
from regbench.train.execution import ExecOptions, intra_op_threads, kernel_mode, prepare_process
from regbench.train.loop import Diverged, resolve_device
from regbench.train.seed_batch import batch_blocker, train_seed_batch


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


class SayOnce:
    """Prints each distinct message once (to stderr): a fallback reason is not repeated per group."""

    def __init__(self, write: Callable[[str], None] | None = None):
        self.seen: set[str] = set()
        self.write = write or (lambda line: print(line, file=sys.stderr))

    def __call__(self, message: str) -> None:
        if message not in self.seen:
            self.seen.add(message)
            self.write(message)


def batched_records(
    specs: list[RunSpec],
    device: str,
    options: ExecOptions | None,
    separate: list[RunSpec],
    say: Callable[[str], None] | None = None,
    workers: int = 1,
) -> Iterator[RunRecord]:
    """Train the seed groups of ``specs`` batched, yielding each seed's record as its group ends.

    Runs that cannot be batched are appended to ``separate`` (the caller trains them as usual).
    With ``workers`` > 1 the groups train in that many worker processes at once (on CPU: a
    group is one process's work, as a run is without batching; one process alone would leave
    the other cores idle while the pool waits for the fallbacks).
    """
    say = say or SayOnce()
    options = options or ExecOptions()
    groups = []
    for group in seed_groups(specs):
        why = _option_blocker(options) if len(group) > 1 else "one seed"
        if why is None:
            groups.append(group)
        else:
            if len(group) > 1:
                say(_fallback(group, why))
            separate.extend(group)
    for group, records in _trained(groups, device, options, workers):
        if isinstance(records, str):
            say(_fallback(group, records))
            separate.extend(group)
        else:
            yield from records


def _fallback(group: list[RunSpec], why: str) -> str:
    return f"--batch-seeds: {group[0].benchmark.spec.name} × {group[0].regularizer.display} trains its seeds separately: {why}"


def _trained(groups: list[list[RunSpec]], device: str, options: ExecOptions, workers: int):
    """(group, its records or why it cannot be batched), in this process or a pool, as each ends."""
    if workers <= 1 or len(groups) <= 1 or device.startswith("cuda") or device == "auto":
        # a GPU is shared by one process's stacked models; a pool would hold a CUDA context each
        for group in groups:
            yield group, _train_group(group, device, options)
        return
    ctx = mp.get_context("spawn")  # as the local executor: fork after torch started threads can deadlock
    with ProcessPoolExecutor(min(workers, len(groups)), mp_context=ctx, initializer=prepare_process) as pool:
        futures = {pool.submit(_train_group, g, device, options): g for g in groups}
        for done in as_completed(futures):
            group = futures[done]
            try:
                yield group, done.result()
            except Exception as err:  # the worker process died (killed, out of memory)
                why = f"worker process died while training the seed batch ({type(err).__name__}: {err})"
                yield group, [record(s, "failed", error=why) for s in group]


def _option_blocker(options: ExecOptions) -> str | None:
    if options.checkpoint_every:
        return "in-run checkpoints are saved per run"
    if options.compile:
        return "--compile compiles one model per run"
    return None


def _train_group(group: list[RunSpec], device: str, options: ExecOptions) -> list[RunRecord] | str:
    """The group's records, or why it cannot be batched (a string)."""
    dev = resolve_device(device)
    kind = "none"
    try:
        stacks = [build_stack(s.regularizer, s.reg_params) for s in group]
        kind = group[0].kind or stacks[0].kind  # the suite row's kind, as run_one records it
        built = [build_run(s, st, dev) for s, st in zip(group, stacks)]
        splits, data = built[0][0], built[0][1]
        models = [m for _, _, m in built]
        why = batch_blocker(models[0], data, stacks[0])
        if why is None and any(d.train.x is not data.train.x or d.train.y is not data.train.y for _, d, _ in built):
            why = "the training set differs per seed (label noise or bootstrap resampling)"
        if why is not None:
            return why
        # the same intra-op thread count as run_one gives a run, so numbers match separate runs'
        with intra_op_threads(options.threads), kernel_mode(dev, options.deterministic):
            results = train_seed_batch(models, data, stacks, group[0].train, [s.seed for s in group], dev)
            task = task_for(splits.info)
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
                ev = task.evaluate(model, splits, spec.seed, dev)
                out.append(ok_record(spec, result, ev, kind, dev, timings={"seed_batch": len(group)}))
            return out
    except Exception as err:  # as run_one: the group's failure is recorded, never fatal to the suite
        tb = traceback.format_exc(limit=-3)
        error = f"{type(err).__name__}: {err}\n{tb}"
        return [record(s, "failed", error=error, kind=kind, env=environment(dev)) for s in group]
