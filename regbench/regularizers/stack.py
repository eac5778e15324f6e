"""A stack of regularizers applied in a fixed, declared order (STYLE.md §10)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from regbench.regularizers.base import Batch, History, Regularizer, SetupContext, soft_cross_entropy


class ConflictError(ValueError):
    """Two regularizers in one stack claim the same thing (model argument, groups, loss)."""


def _overrides(r: Regularizer, hook: str) -> bool:
    return getattr(type(r), hook) is not getattr(Regularizer, hook)


class Stack(Regularizer):
    """Applies its members' hooks in order; built once per run.

    Conflicts are detected at construction — i.e. when the suite loads, before training:
    two members setting the same model argument to different values, two members defining
    parameter groups, or two members replacing the loss.
    """

    def __init__(self, members: list[Regularizer]):
        self.members = list(members)
        self._check_conflicts()

    @property
    def kind(self) -> str:  # type: ignore[override]
        kinds = {m.kind for m in self.members if m.kind != "none"}
        return kinds.pop() if len(kinds) == 1 else ("recipe" if kinds else "none")

    @property
    def decoupled_weight_decay(self) -> bool:  # type: ignore[override]
        return any(m.decoupled_weight_decay for m in self.members)

    def _check_conflicts(self) -> None:
        seen: dict[str, tuple[str, Any]] = {}
        for m in self.members:
            for key, value in m.model_overrides().items():
                if key in seen and seen[key][1] != value:
                    raise ConflictError(
                        f"'{name_of(m)}' sets model {key}={value!r} but '{seen[key][0]}' sets {seen[key][1]!r}"
                    )
                seen[key] = (name_of(m), value)
        for hook in ("param_groups", "loss"):
            owners = [name_of(m) for m in self.members if _overrides(m, hook)]
            if len(owners) > 1:
                raise ConflictError(f"more than one regularizer defines {hook}: {', '.join(owners)}")

    def setup(self, ctx: SetupContext) -> None:
        for m in self.members:
            m.setup(ctx)

    def model_overrides(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for m in self.members:
            out.update(m.model_overrides())
        return out

    def param_groups(self, model: nn.Module):
        for m in self.members:
            groups = m.param_groups(model)
            if groups is not None:
                return groups
        return None

    def transform(self, x: torch.Tensor, y: torch.Tensor, g: torch.Generator):
        for m in self.members:
            x, y = m.transform(x, y, g)
        return x, y

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        for m in self.members:
            out = m.loss(logits, y)
            if out is not None:
                return out
        return soft_cross_entropy(logits, y)

    def penalty(self, model: nn.Module, batch: Batch):
        total: torch.Tensor | float = 0.0
        for m in self.members:
            total = total + m.penalty(model, batch)
        return total

    def after_backward(self, model: nn.Module) -> None:
        for m in self.members:
            m.after_backward(model)

    def after_epoch(self, model: nn.Module, history: History) -> None:
        for m in self.members:
            m.after_epoch(model, history)

    def should_stop(self, history: History) -> bool:
        return any(m.should_stop(history) for m in self.members)

    def state_dict(self) -> dict[str, Any]:
        return {"members": [m.state_dict() for m in self.members]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for m, s in zip(self.members, state["members"], strict=True):
            m.load_state_dict(s)

    def finish(self, model: nn.Module, history: History) -> dict[str, float]:
        out: dict[str, float] = {}
        for m in self.members:
            out.update(m.finish(model, history) or {})
        return out


def name_of(r: Regularizer) -> str:
    return getattr(type(r), "registered_name", "") or type(r).__name__
