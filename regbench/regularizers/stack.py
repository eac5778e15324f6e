"""A stack of regularizers applied in a fixed, declared order (docs/architecture.md, Conventions: Hooks)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from regbench.data.base import MODALITIES
from regbench.regularizers.base import TASKS, Batch, History, Regularizer, SetupContext, soft_cross_entropy


# hooks that one member of a stack at most may define: two perturbations, two schedules or two
# averages cannot both own the step or the end (checked in this order when a stack is built)
OWNED_HOOKS = ("param_groups", "loss", "first_step", "lr_schedule", "averaged_state")


class ConflictError(ValueError):
    """Two regularizers in one stack claim the same thing (model argument, groups, loss)."""


def _overrides(r: Regularizer, hook: str) -> bool:
    """Does ``r`` really define ``hook``? A nested stack does only if one of its members does."""
    if isinstance(r, Stack):
        return any(_overrides(m, hook) for m in r.members)
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

    @property
    def tasks(self) -> tuple[str, ...]:  # type: ignore[override]
        """The tasks every member applies to (an empty stack applies to all)."""
        return tuple(t for t in TASKS if all(t in m.tasks for m in self.members))

    @property
    def modalities(self) -> tuple[str, ...]:  # type: ignore[override]
        """The input modalities every member applies to (an empty stack applies to all)."""
        return tuple(x for x in MODALITIES if all(x in m.modalities for m in self.members))

    def unsupported(self, task: str, modality: str | None = None) -> list[str]:
        """Registered names of the members that do not apply to ``task`` (or to ``modality``
        inputs, when given); a recipe is named by its own name."""
        return [
            name_of(m)
            for m in self.members
            if task not in m.tasks or (modality is not None and modality not in m.modalities)
        ]

    def target_smoothing(self) -> float:
        """Members' smoothings composed as their target transforms would be: 1 − Π(1 − ε_i)."""
        keep = 1.0
        for m in self.members:
            keep *= 1.0 - _call(m, "target_smoothing")
        return 1.0 - keep

    def _check_conflicts(self) -> None:
        seen: dict[str, tuple[str, Any]] = {}
        for m in self.members:
            for key, value in m.model_overrides().items():
                if key in seen and seen[key][1] != value:
                    raise ConflictError(
                        f"'{name_of(m)}' sets model {key}={value!r} but '{seen[key][0]}' sets {seen[key][1]!r}"
                    )
                seen[key] = (name_of(m), value)
        for hook in OWNED_HOOKS:
            owners = [name_of(m) for m in self.members if _overrides(m, hook)]
            if len(owners) > 1:
                raise ConflictError(f"more than one regularizer defines {hook}: {', '.join(owners)}")

    # ---- hooks: each member's call is checked (HookError names the member and the hook) ----
    # Per step only cheap checks run: the output's type and shape (Python-side metadata) and a
    # running on-device sum of its values, read only after the trainer has seen a non-finite
    # loss — no .item() per step, so no GPU synchronization.

    def _hooked(self, hook: str) -> list[Regularizer]:
        cache = self.__dict__.setdefault("_hook_members", {})
        if hook not in cache:  # members that keep the no-op default are skipped every step
            cache[hook] = [m for m in self.members if _overrides(m, hook)]
        return cache[hook]

    def has(self, hook: str) -> bool:
        """Does any member define ``hook`` (so the trainer must call it)?"""
        return bool(self._hooked(hook))

    def _watch(self, m: Regularizer, hook: str, value: torch.Tensor) -> None:
        sums = self.__dict__.setdefault("_sums", {})
        key = (id(m), hook)
        # NaN and inf survive a sum: one small op per step (a scalar needs no reduction)
        total = value.detach() if value.dim() == 0 else value.detach().sum()
        sums[key] = (m, hook, total + sums[key][2] if key in sums else total)

    def nonfinite_report(self) -> str:
        """Which member's hook produced a non-finite value so far ("" if none). Reads the device."""
        for m, hook, total in self.__dict__.get("_sums", {}).values():
            if not bool(torch.isfinite(total)):
                return f"regularizer '{name_of(m)}' hook {hook} produced a non-finite value ({total.item()})"
        for m in self.members:
            inner = m.nonfinite_report() if isinstance(m, Stack) else ""
            if inner:
                return inner
        return ""

    @property
    def needs_input_grad(self) -> bool:  # type: ignore[override]
        return any(m.needs_input_grad for m in self.members)

    @property
    def needs_envs(self) -> bool:  # type: ignore[override]
        return any(m.needs_envs for m in self.members)

    def resets_optimizer(self) -> bool:
        return any([_call(m, "resets_optimizer") for m in self._hooked("resets_optimizer")])

    def setup(self, ctx: SetupContext) -> None:
        for m in self.members:
            _call(m, "setup", ctx)

    def model_overrides(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for m in self.members:
            out.update(m.model_overrides())
        return out

    def param_groups(self, model: nn.Module):
        for m in self.members:
            groups = _call(m, "param_groups", model)
            if groups is not None:
                return groups
        return None

    def transform(self, x: torch.Tensor, y: torch.Tensor, g: torch.Generator):
        for m in self._hooked("transform"):
            out = _call(m, "transform", x, y, g)
            if not (isinstance(out, tuple) and len(out) == 2):
                raise hook_error(m, "transform", f"returned {type(out).__name__}, expected a tuple (x, y)")
            nx, ny = out
            if not isinstance(nx, torch.Tensor) or nx.shape != x.shape:
                raise hook_error(
                    m,
                    "transform",
                    f"returned x with {_shape(nx)}, expected shape {tuple(x.shape)} (the shape of its input)",
                )
            if not isinstance(ny, torch.Tensor) or ny.shape != y.shape:
                raise hook_error(
                    m, "transform", f"returned y with {_shape(ny)}, expected shape {tuple(y.shape)} (B, K) soft targets"
                )
            self._watch(m, "transform", ny)
            if not _builtin(m):  # x is large: watch only plugins' images; built-ins are tested
                self._watch(m, "transform", nx)
            x, y = nx, ny
        return x, y

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor | None:
        for m in self._hooked("loss"):
            out = _call(m, "loss", logits, y)
            if out is None:
                continue
            if not isinstance(out, torch.Tensor) or out.dim() != 0:
                raise hook_error(m, "loss", f"returned {_shape(out)}, expected a scalar")
            self._watch(m, "loss", out)
            return out
        return None

    def data_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The member-defined loss, else soft-target cross-entropy. logits, y: (B, K) → scalar."""
        out = self.loss(logits, y)
        return soft_cross_entropy(logits, y) if out is None else out

    def penalty(self, model: nn.Module, batch: Batch):
        total: torch.Tensor | float = 0.0
        for m in self._hooked("penalty"):
            out = _call(m, "penalty", model, batch)
            if isinstance(out, torch.Tensor):
                if out.dim() != 0:
                    raise hook_error(m, "penalty", f"returned {_shape(out)}, expected a scalar")
                self._watch(m, "penalty", out)
            elif not isinstance(out, (int, float)) or isinstance(out, bool):
                raise hook_error(m, "penalty", f"returned {type(out).__name__}, expected a scalar tensor or float")
            elif not math.isfinite(out):
                raise hook_error(m, "penalty", f"returned a non-finite value ({out})")
            total = total + out
        return total

    def after_backward(self, model: nn.Module) -> None:
        for m in self._hooked("after_backward"):
            _call(m, "after_backward", model)

    def first_step(self, model: nn.Module, loss: torch.Tensor) -> None:
        for m in self._hooked("first_step"):
            _call(m, "first_step", model, loss)

    def second_step(self, model: nn.Module, loss: torch.Tensor) -> None:
        for m in self._hooked("second_step"):
            _call(m, "second_step", model, loss)

    def after_step(self, model: nn.Module) -> None:
        for m in self._hooked("after_step"):
            _call(m, "after_step", model)

    def lr_schedule(self, base, steps_per_epoch: int):
        for m in self._hooked("lr_schedule"):  # at most one (checked at construction)
            return _call(m, "lr_schedule", base, steps_per_epoch)
        return base

    def averaged_state(self, model: nn.Module):
        for m in self._hooked("averaged_state"):  # at most one (checked at construction)
            return _call(m, "averaged_state", model)
        return None

    @property
    def update_bn(self) -> bool:  # type: ignore[override]
        return any(m.update_bn for m in self._hooked("averaged_state"))

    def after_epoch(self, model: nn.Module, history: History) -> None:
        for m in self.members:
            _call(m, "after_epoch", model, history)

    def should_stop(self, history: History) -> bool:
        return any(bool(_call(m, "should_stop", history)) for m in self.members)

    def state_dict(self) -> dict[str, Any]:
        return {"members": [m.state_dict() for m in self.members]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for m, s in zip(self.members, state["members"], strict=True):
            m.load_state_dict(s)

    def finish(self, model: nn.Module, history: History) -> dict[str, float]:
        out: dict[str, float] = {}
        for m in self.members:
            got = _call(m, "finish", model, history) or {}
            if not isinstance(got, dict):
                raise hook_error(m, "finish", f"returned {type(got).__name__}, expected a dict of run-level numbers")
            out.update(got)
        return out


class HookError(RuntimeError):
    """A regularizer's hook raised or returned something the trainer cannot use.

    The message names the regularizer and the hook, e.g. ``regularizer 'bad_plugin' hook loss
    returned shape (128, 10), expected a scalar``; the run is recorded as failed with it.
    """


def hook_error(m: Regularizer, hook: str, what: str) -> HookError:
    return HookError(f"regularizer '{name_of(m)}' hook {hook} {what}")


def _call(m: Regularizer, hook: str, *args: Any) -> Any:
    try:  # zero-cost on Python ≥ 3.11 when nothing is raised
        return getattr(m, hook)(*args)
    except (HookError, KeyboardInterrupt):  # Ctrl-C stops the suite cleanly, as everywhere
        raise
    except BaseException as err:  # SystemExit, GeneratorExit, …: a plugin's, so it fails its own run
        raise hook_error(m, hook, f"raised {type(err).__name__}: {err}") from err


def _shape(v: Any) -> str:
    if isinstance(v, torch.Tensor):
        return f"shape {tuple(v.shape)}" if v.dim() else "a scalar"
    return type(v).__name__


def _builtin(m: Regularizer) -> bool:
    return type(m).__module__.startswith("regbench.")


def name_of(r: Regularizer) -> str:
    """The registered name of ``r``'s own class (not a parent's), else its class name."""
    return type(r).__dict__.get("registered_name") or type(r).__name__
