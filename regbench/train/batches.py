"""Which training examples each step of an epoch sees (docs/architecture.md, Conventions: Data path).

Two orders, both drawn from the run's ``order`` generator only, so an in-run checkpoint
(which saves that generator's state) resumes either of them exactly:

- :class:`ShuffledBatches` — today's order: one permutation of all N examples per epoch,
  cut into consecutive slices of ``batch_size``.
- :class:`EnvBalancedBatches` — for stacks with a regularizer that ``needs_envs``: every
  step holds the same number of examples from each training environment, as DomainBed's
  one ``InfiniteDataLoader`` per environment does. Each environment is walked in its own
  fresh permutation per epoch (wrapping into a further permutation when a small
  environment runs out), so no state outlives an epoch but the generator's. A full batch
  (``batch_size`` ≥ N, the paper's ColoredMNIST protocol) holds every example once, each
  environment at its own size: equal shares would drop the larger environments' surplus.

Both layouts are contiguous by environment, env 0's rows first, with per-environment counts
known on the CPU (``EnvBalancedBatches.counts``, passed on as ``Batch.env_counts``), so a
penalty splits a batch by reshaping or slicing, never with a boolean mask (a device sync).

An epoch has the same number of steps under both orders, so a schedule and the compute
budget do not change when a stack asks for environments.
"""

from __future__ import annotations

import torch


def step_starts(n: int, batch_size: int) -> list[int]:
    """Start index of every step's slice of an epoch of ``n`` examples.

    A final batch of one breaks BatchNorm's statistics, so it is folded into the previous one.
    """
    return [i for i in range(0, n, batch_size) if not (i > 0 and n - i == 1)]


class ShuffledBatches:
    """One seeded permutation of all examples per epoch, sliced into batches."""

    def __init__(self, n: int, batch_size: int):
        self.n = n
        self.starts = step_starts(n, batch_size)

    def __len__(self) -> int:
        return len(self.starts)

    def epoch(self, g: torch.Generator, device: torch.device | str = "cpu") -> list[torch.Tensor]:
        """The index tensors ((B,) int64 on ``device``) of one epoch's steps, drawn from ``g``."""
        perm = torch.randperm(self.n, generator=g).to(device)  # one copy per epoch, not per step
        ends = [*self.starts[1:], self.n]
        return [perm[i:e] for i, e in zip(self.starts, ends)]


class EnvBalancedBatches:
    """Every step takes ``share = batch_size // E`` examples (at most the smallest environment's
    size) from each of E environments; a full batch (``batch_size`` ≥ N) takes all of each.

    env: (N,) int64 environment id per training example. Within a step the examples are
    grouped by environment in ascending id order (env 0's rows first), ``counts[i]`` rows of
    ``ids[i]``: every step has the same counts, equal except in a full batch of environments
    of unequal sizes.
    """

    def __init__(self, env: torch.Tensor, batch_size: int):
        self.ids = torch.unique(env).tolist()
        if len(self.ids) < 2:
            raise ValueError(f"environment-balanced batches need at least 2 environments, got ids {self.ids}")
        self.members = [torch.nonzero(env == e).flatten() for e in self.ids]
        self.steps = len(step_starts(len(env), batch_size))
        self.full = batch_size >= len(env)
        # capped at the smallest environment, so that a batch never holds an example twice
        self.share = max(1, min(batch_size // len(self.ids), min(len(m) for m in self.members)))
        self.counts = tuple(len(m) for m in self.members) if self.full else (self.share,) * len(self.ids)

    def __len__(self) -> int:
        return self.steps

    def _stream(self, members: torch.Tensor, count: int, g: torch.Generator) -> torch.Tensor:
        """``count`` indices from fresh permutations of ``members`` (a new one whenever one runs out)."""
        rounds = -(-count // len(members))
        return torch.cat([members[torch.randperm(len(members), generator=g)] for _ in range(rounds)])[:count]

    def epoch(self, g: torch.Generator, device: torch.device | str = "cpu") -> list[torch.Tensor]:
        """The index tensors ((sum(counts),) int64 on ``device``) of one epoch's steps, drawn from ``g``."""
        if self.full:  # one step: each environment once, in a fresh permutation of its own
            return [torch.cat([m[torch.randperm(len(m), generator=g)] for m in self.members]).to(device)]
        need = self.steps * self.share
        streams = [self._stream(m, need, g).view(self.steps, self.share) for m in self.members]
        return list(torch.cat(streams, dim=1).to(device).unbind(0))


def epoch_batches(env: torch.Tensor | None, n: int, batch_size: int, balanced: bool):
    """The batch order a run uses: environment-balanced when ``balanced``, else shuffled."""
    if balanced:
        if env is None:
            raise ValueError("a regularizer needs training environments but the training data has no meta['env']")
        return EnvBalancedBatches(env, batch_size)
    return ShuffledBatches(n, batch_size)
