"""In-run checkpoints: a killed or preempted run resumes mid-way (docs/architecture.md, Execution).

A checkpoint holds everything the rest of the run depends on — model, optimizer, scheduler,
every RNG state (torch's global RNG inside the run's seeded block, the batch-order and
augmentation generators, CUDA's), the learning curves so far and the regularizer stack's
own state (e.g. early stopping's best weights) — so that, in deterministic mode on CPU, a
resumed run ends with exactly the metrics of an uninterrupted one.

Files are written to a temporary name and moved into place with ``os.replace``, which is
atomic on POSIX: a kill during the write leaves the previous checkpoint intact. The driver
deletes a run's checkpoint once the run's final record is in the store.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
from pathlib import Path
from typing import Any

import torch

FORMAT = 1
# Test hook that simulates a crash or preemption right after a checkpoint is written:
# "EPOCH:MARKER[:MODE]" — after saving epoch EPOCH, if MARKER does not exist, create it and
# SIGKILL this process (MODE "kill", the default), raise (MODE "raise", for in-process runs)
# or wait for a signal (MODE "pause": a scheduler's preemption signal). Once per marker.
CRASH_ENV = "REGBENCH_CRASH_AFTER_CHECKPOINT"


class SimulatedCrash(RuntimeError):
    """Raised by the ``REGBENCH_CRASH_AFTER_CHECKPOINT=…:raise`` test hook."""


class Checkpointer:
    """Saves and restores one run's training state at ``path`` every ``every`` epochs."""

    def __init__(self, path: str | Path, every: int, run_key: str):
        self.path, self.every, self.run_key = Path(path), every, run_key

    def due(self, epoch: int) -> bool:
        return self.every > 0 and epoch % self.every == 0

    def load(self, device: torch.device) -> dict[str, Any] | None:
        """The saved state, or None when there is none (or it belongs to another run)."""
        if not self.path.exists():
            return None
        try:
            state = torch.load(self.path, map_location=device, weights_only=False)
        except Exception as err:  # unreadable: start over rather than fail the run
            print(f"warning: ignoring unreadable checkpoint {self.path} ({err})", file=sys.stderr)
            return None
        if state.get("format") != FORMAT or state.get("run_key") != self.run_key:
            return None
        return state

    def save(self, state: dict[str, Any]) -> None:
        """Write ``state`` atomically (temporary file, fsync, ``os.replace``)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            torch.save({"format": FORMAT, "run_key": self.run_key, **state}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        _maybe_crash(state["epoch"])

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)


def delete_checkpoint(checkpoint_dir: str | Path | None, run_key: str) -> None:
    """Remove a recorded run's checkpoint (no-op when there is none)."""
    if checkpoint_dir:
        (Path(checkpoint_dir) / f"{run_key}.pt").unlink(missing_ok=True)


def rng_states(order_g: torch.Generator, aug_g: torch.Generator, cuda: bool) -> dict[str, Any]:
    """Every RNG state the training loop reads. Call inside the run's seeded global-RNG block."""
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if cuda else None,
        "order": order_g.get_state(),
        "augment": aug_g.get_state(),
    }


def set_rng_states(states: dict[str, Any], order_g: torch.Generator, aug_g: torch.Generator) -> None:
    """Restore what :func:`rng_states` captured (RNG states are CPU byte tensors)."""
    torch.set_rng_state(states["torch"].cpu())
    if states["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in states["cuda"]])
    order_g.set_state(states["order"].cpu())
    aug_g.set_state(states["augment"].cpu())


def history_state(history) -> dict[str, list[float]]:
    return dataclasses.asdict(history)


def _maybe_crash(epoch: int) -> None:
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    at, marker, *mode = spec.split(":")
    if int(at) != epoch or Path(marker).exists():
        return
    Path(marker).write_text(str(os.getpid()))
    if mode == ["raise"]:
        raise SimulatedCrash(f"simulated crash after the checkpoint of epoch {epoch}")
    if mode == ["pause"]:
        signal.pause()  # until a signal whose handler ends the process (e.g. submitit's requeue)
        return
    os.kill(os.getpid(), signal.SIGKILL)
