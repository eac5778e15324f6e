"""run_plan: a plan → records in the store, training only what the store does not hold yet."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from regbench.harness.executors import get_executor
from regbench.harness.numerics import MixedNumericsError, check_numerics, numerics_for
from regbench.harness.plan import Plan, RunSpec
from regbench.data.presence import check_suite_data
from regbench.harness.run_one import build_splits, fingerprint
from regbench.harness.seed_groups import SayOnce, batched_records, fallback_note
from regbench.store import FINAL_STATUSES, Lease, Store
from regbench.train.checkpoint import delete_checkpoint
from regbench.train.execution import ExecOptions, exec_options


def run_plan(
    plan: Plan,
    store: Store,
    workers: int | None = None,
    device: str = "cpu",
    executor: str = "local",
    progress: bool = True,
    checkpoint_every: int | None = None,
    deterministic: bool = False,
    compile: bool = False,
    threads: int | None = None,
    batch_seeds: bool | None = None,
    run_timeout: float | None = None,
    **executor_args: Any,
) -> dict[str, int]:
    """Train every run of ``plan`` not yet finished in ``store``; record each as it completes.

    ``checkpoint_every`` (default: the suite's ``checkpoint_every``, 0 = off) saves in-run
    checkpoints to ``<store folder>/checkpoints/<run_key>.pt``; a run's checkpoint is
    deleted once its final record is stored. ``threads`` is every run's intra-op thread
    count whichever executor runs it (default 1; ``deterministic`` pins it to 1). The device
    type, its precision and the thread count are part of every run's key: the plan's runs are
    trained under the keys :func:`~regbench.harness.numerics.bind_numerics` gives them with
    these arguments, and registered in the store under ``plan.members_name``.
    ``batch_seeds`` (default: the suite's ``batch_seeds``) trains the seeds of each benchmark ×
    regularizer together as one stacked model where that pays on the device, or wherever it
    can with ``"everywhere"`` (regbench.harness.seed_groups): in the local pool's workers, or
    for Ray and Slurm in this process, the rest going to the executor. ``run_timeout``
    (default: the suite's, None = no limit) kills a run that takes longer, recorded ``failed``
    with ``timeout:``. Each run to train is first
    leased in the store (:meth:`Store.claim`); runs another live process holds are skipped and
    counted. Returns counts: {"planned", "reused", "trained", "ok", "failed", "diverged", "collapsed",
    "elsewhere" (leased by another live process), "reclaimed" (taken over from a dead holder's
    lease), "seconds"}.
    """
    # the executor is built (and its options checked) before anything is written to the store
    options = _exec_options(plan, store, checkpoint_every, deterministic, compile, threads)
    ckpt_dir = options.checkpoint_dir
    # a suite's run_timeout applies where regbench kills runs itself (local); Slurm has --time
    timeout = run_timeout if run_timeout is not None else plan.suite.run_timeout if executor == "local" else None
    ex = get_executor(
        executor,
        workers=workers,
        device=device,
        options=options,
        run_timeout=timeout,
        work_dir=str(store.path.parent.resolve()),
        **executor_args,
    )
    plan = _bind_and_check(plan, store, ex, options.threads)
    store.add_to_suite(
        plan.members_name,
        [(r.run_key, r.benchmark.spec.name, r.regularizer.display, r.seed) for r in plan.runs],
    )
    unique = _unfinished(plan, store)
    counts = _first_counts(plan, unique)
    if not unique:
        _close(ex)
        return counts
    # Prepare each benchmark's splits once, here: workers then read them from the disk cache,
    # and missing data stops the suite with one clear line before anything trains: every
    # missing dataset at once (file checks only), then each loader's own check.
    check_suite_data({r.benchmark.spec.name: r.benchmark.spec for r in unique.values()}.values())
    for bench in {fingerprint(r.benchmark): r.benchmark for r in unique.values()}.values():
        build_splits(bench)
    lease = Lease()
    todo = _claim(store, unique, lease, counts)
    if not todo:
        store.release(lease)
        _close(ex)
        return counts
    t0 = time.perf_counter()
    batch = plan.suite.batch_seeds if batch_seeds is None else batch_seeds
    with store.heartbeat(lease):
        keeper = _Keeper(store, ckpt_dir, counts)
        _train_and_keep(ex, todo, keeper, batch, executor == "local", device, options, progress)
    counts["seconds"] = round(time.perf_counter() - t0, 2)
    return counts


def _bind_and_check(plan: Plan, store: Store, ex, threads: int) -> Plan:
    """``plan`` under the numerics ``ex`` computes in, which its run keys cover
    (:func:`~regbench.harness.numerics.bind_numerics` gives a caller the same). Raises
    :class:`MixedNumericsError` (closing ``ex``) before anything is written when the store's
    runs under ``plan.members_name`` were computed in others: a suite never mixes CPU fp32 and
    CUDA bf16 numbers."""
    try:
        device_type = ex.device_type()
        bound = plan.with_numerics(numerics_for(device_type, threads))
        check_numerics(store, bound.members_name, {r.run_key for r in bound.runs}, device_type)
    except MixedNumericsError:
        _close(ex)
        raise
    return bound


def _exec_options(
    plan: Plan, store: Store, checkpoint_every: int | None, deterministic: bool, compile: bool, threads: int | None
) -> ExecOptions:
    """The runs' execution options; checkpoints (every ``checkpoint_every`` epochs, default the
    suite's) go to ``<store folder>/checkpoints``."""
    every = plan.suite.checkpoint_every if checkpoint_every is None else checkpoint_every
    ckpt_dir = str((store.path.parent / "checkpoints").resolve()) if every > 0 else None
    return exec_options(every, ckpt_dir, deterministic, compile, threads)


def _unfinished(plan: Plan, store: Store) -> dict[str, RunSpec]:
    """The plan's runs ``store`` holds no final record of, one per run key."""
    done = store.done_keys(r.run_key for r in plan.runs)
    unique: dict[str, RunSpec] = {}
    for r in plan.runs:
        if r.run_key not in done:
            unique.setdefault(r.run_key, r)
    return unique


def _first_counts(plan: Plan, unique: dict[str, RunSpec]) -> dict[str, int]:
    """run_plan's counts before anything is claimed or trained."""
    return {
        "planned": len(plan.runs),
        "reused": len(plan.runs) - len(unique),
        "trained": 0,
        "ok": 0,
        "failed": 0,
        "diverged": 0,
        "collapsed": 0,
        "elsewhere": 0,
        "reclaimed": 0,
    }


def _claim(store: Store, unique: dict[str, RunSpec], lease: Lease, counts: dict[str, int]) -> list[RunSpec]:
    """The runs this process leases and will train; ``counts`` gains those finished meanwhile,
    leased elsewhere, or reclaimed from a dead holder."""
    # Claim the runs in one transaction: a run leased by another live process, or finished
    # meanwhile, is not trained here (docs/architecture.md, Store: leases).
    claim = store.claim(unique, lease)
    counts["reused"] += len(claim.finished)
    counts["elsewhere"] = len(claim.elsewhere)
    counts["reclaimed"] = claim.reclaimed
    return [unique[k] for k in claim.mine]


@dataclass
class _Keeper:
    """Stores each finished record, drops its checkpoint once final, and counts it."""

    store: Store
    ckpt_dir: str | None
    counts: dict[str, int]

    def keep(self, rec) -> None:
        """Store one finished record and count it."""
        self.store.put(rec)  # store.put ends the run's lease
        if rec.status in FINAL_STATUSES:  # a failed run keeps its checkpoint for the retry
            delete_checkpoint(self.ckpt_dir, rec.run_key)
        self.counts["trained"] += 1
        self.counts[rec.status] = self.counts.get(rec.status, 0) + 1


def _train_and_keep(
    ex, todo: list[RunSpec], keeper: _Keeper, batch, pool_batches: bool, device: str, options, progress: bool
) -> None:
    """Train ``todo`` and keep each record as it comes. ``batch``: seed batching (False, True or
    ``"everywhere"``); ``pool_batches``: the executor trains the groups itself (the local pool),
    else the groups train here (``device``, ``options``) and the executor takes the rest."""
    say = SayOnce()
    if batch and pool_batches:  # groups and single runs share the pool's workers
        records = ex.run(todo, progress=progress, batch_seeds=batch)
    else:
        separate = todo
        if batch:  # Ray and Slurm take single runs: the groups train here, the rest there
            separate = []
            for rec in batched_records(todo, device, options, separate, say, batch == "everywhere"):
                keeper.keep(rec)
        records = ex.run(separate, progress=progress) if separate else ()
        if not separate:  # every run was batched: the executor never ran
            _close(ex)
    for rec in records:
        keeper.keep(rec)
        note = fallback_note(rec)
        if note:
            say(*note)


def _close(ex) -> None:
    """Release what an executor holds when its ``run`` is not going to (Ray's connection)."""
    close = getattr(ex, "close", None)
    if close is not None:
        close()
