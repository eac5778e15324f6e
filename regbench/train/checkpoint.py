"""In-run checkpoints: a killed or preempted run resumes mid-way (docs/architecture.md, Execution).

A checkpoint holds everything the rest of the run depends on — model, optimizer, scheduler,
every RNG state (torch's global RNG inside the run's seeded block, the batch-order and
augmentation generators, CUDA's), the learning curves so far and the regularizer stack's
own state (e.g. early stopping's best weights) — so that, in deterministic mode on CPU, a
resumed run ends with exactly the metrics of an uninterrupted one.

Files are read with ``torch.load(weights_only=True)``: the path is predictable, so a planted
file must not run code. Everything saved is therefore a tensor, a number, a string or a
container of them (RNG states are byte tensors, the history a dict of float lists); a file
holding anything else is refused and the run starts over. Tensors are loaded onto the CPU
and moved by ``load_state_dict`` (model weights and Adam's moments to the parameters'
device; Adam's ``step`` counters stay on the CPU, where reading them does not sync a GPU).
A checkpoint written on another device type (CPU ↔ CUDA) is not resumed: its RNG states
do not carry over (a CUDA generator's state is 16 bytes, a CPU one's 5,056), so the run
starts over with a one-line warning rather than failing on every retry.

Files are written to a temporary name and moved into place with ``os.replace``, which is
atomic on POSIX: a kill during the write leaves the previous checkpoint intact. The driver
deletes a run's checkpoint once the run's final record is in the store.
"""

from __future__ import annotations

import dataclasses
import errno
import io
import os
import signal
import sys
from pathlib import Path
from typing import Any

import torch

FORMAT = 2  # 2: weights-only types, the device type and only the run device's CUDA RNG state
# Test hook that simulates a crash or preemption right after a checkpoint is written:
# "EPOCH:MARKER[:MODE]" — after saving epoch EPOCH, if MARKER does not exist, create it and
# SIGKILL this process (MODE "kill", the default), raise (MODE "raise", for in-process runs)
# or wait for a signal (MODE "pause": a scheduler's preemption signal). Once per marker.
CRASH_ENV = "REGBENCH_CRASH_AFTER_CHECKPOINT"
DISK_FULL = {errno.ENOSPC, errno.EDQUOT}  # no space left on the device, or the user's quota is used up


class SimulatedCrash(RuntimeError):
    """Raised by the ``REGBENCH_CRASH_AFTER_CHECKPOINT=…:raise`` test hook."""


class Checkpointer:
    """Saves and restores one run's training state at ``path`` every ``every`` epochs."""

    def __init__(self, path: str | Path, every: int, run_key: str):
        self.path, self.every, self.run_key = Path(path), every, run_key

    def due(self, epoch: int) -> bool:
        return self.every > 0 and epoch % self.every == 0

    def load(self, device: torch.device) -> dict[str, Any] | None:
        """The saved state (tensors on the CPU), or None when there is none, it belongs to
        another run, or it was written on another device type (a one-line warning)."""
        if not self.path.exists():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as err:  # unreadable, or holds objects weights_only refuses: start over
            why = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            print(f"warning: ignoring unreadable checkpoint {self.path} ({why})", file=sys.stderr)
            return None
        if not isinstance(state, dict) or state.get("format") != FORMAT or state.get("run_key") != self.run_key:
            return None
        written_on = state.get("rng", {}).get("device_type")
        if written_on != device.type:
            print(
                f"warning: checkpoint {self.path.name} was written on {written_on}, this run is on "
                f"{device.type}; starting the run over",
                file=sys.stderr,
            )
            return None
        return state

    def save(self, state: dict[str, Any]) -> None:
        """Write ``state`` atomically (temporary file, fsync, ``os.replace``).

        On a full disk (ENOSPC, or a quota: EDQUOT) the checkpoint is skipped with a one-line
        warning naming the folder, its temporary file removed and the previous checkpoint
        kept: a checkpoint is optional, the run goes on. Any other failure also removes the
        temporary file, then propagates.
        """
        # serialized in memory first: torch's writer turns a failed write into an opaque
        # "enforce fail at inline_container.cc" RuntimeError, a plain file write keeps the errno
        buffer = io.BytesIO()
        torch.save({"format": FORMAT, "run_key": self.run_key, **state}, buffer)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(buffer.getbuffer())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as err:
            tmp.unlink(missing_ok=True)
            if err.errno not in DISK_FULL:
                raise
            print(
                f"warning: disk full: skipped the epoch-{state['epoch']} checkpoint in {self.path.parent} "
                f"({os.strerror(err.errno)}); the run goes on from its last checkpoint if interrupted",
                file=sys.stderr,
            )
            return
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _maybe_crash(state["epoch"])

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)


def delete_checkpoint(checkpoint_dir: str | Path | None, run_key: str) -> None:
    """Remove a recorded run's checkpoint (no-op when there is none)."""
    if checkpoint_dir:
        (Path(checkpoint_dir) / f"{run_key}.pt").unlink(missing_ok=True)


def rng_states(order_g: torch.Generator, aug_g: torch.Generator, device: torch.device) -> dict[str, Any]:
    """Every RNG state the training loop reads, as CPU byte tensors. Call inside the run's
    seeded global-RNG block. On CUDA only the run's own GPU's state is saved: the others are
    not used, and a resume may see fewer GPUs."""
    return {
        "device_type": device.type,  # which generators these states fit (Checkpointer.load checks it)
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        "order": order_g.get_state(),
        "augment": aug_g.get_state(),
    }


def set_rng_states(
    states: dict[str, Any], order_g: torch.Generator, aug_g: torch.Generator, device: torch.device
) -> None:
    """Restore what :func:`rng_states` captured, on the run's device (same device type:
    :meth:`Checkpointer.load` refuses a checkpoint of another)."""
    torch.set_rng_state(states["torch"])
    if states["cuda"] is not None:
        torch.cuda.set_rng_state(states["cuda"], device)
    order_g.set_state(states["order"])
    aug_g.set_state(states["augment"])


def history_state(history) -> dict[str, list[float]]:
    """The learning curves as a dict of float lists (a type ``weights_only`` loading allows)."""
    return {k: [float(v) for v in vals] for k, vals in dataclasses.asdict(history).items()}


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
