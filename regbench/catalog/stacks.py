"""What checking a suite reads of a regularizer stack, without constructing it.

A suite's stack is refused when two members define the same owned hook or set one model
argument to different values, and a (benchmark, stack) pair when a member does not apply to
the benchmark's task or inputs or needs environments it lacks; the leaderboard's row kind
comes from the members' kinds. Each of these reads facts of the members' classes only
(:class:`MemberFacts`), which ``catalog.declared`` holds for the built-in regularizers: so
``regbench validate SUITE`` checks their stacks without importing them (and torch). A stack
with a plugin, or one whose members set the same model argument (whether the values agree is
the classes' to say), is built from the classes themselves, as is every stack once they are
imported in this process (``tests/test_startup.py`` checks that both ways agree).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from regbench.catalog import live
from regbench.catalog.declared import CATALOG


@dataclass(frozen=True)
class MemberFacts:
    """One member of a stack as the suite checks see it (a recipe with its own members)."""

    name: str  # its registered name (regularizers.stack.name_of)
    kind: str
    tasks: tuple[str, ...]
    modalities: tuple[str, ...]
    needs_envs: bool
    hooks: tuple[str, ...]  # the owned hooks it defines (regularizers.stack.OWNED_HOOKS)
    overrides: tuple[str, ...]  # the model arguments it sets (its model_overrides' keys)
    members: tuple[MemberFacts, ...] = ()  # a recipe's members; () for a single regularizer

    def as_data(self) -> dict[str, Any]:
        """The facts as a literal for ``catalog.declared``."""
        return {**vars(self), "members": tuple(m.as_data() for m in self.members)}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> MemberFacts:
        return cls(**{**data, "members": tuple(cls.from_data(m) for m in data["members"])})


@dataclass(frozen=True)
class StackFacts:
    """The members of a built stack (a lone recipe's own members, as ``build_stack`` unwraps it)."""

    members: tuple[MemberFacts, ...]

    def unsupported(self, task: str, modality: str | None = None) -> list[str]:
        """The members' names that do not apply to ``task`` (or to ``modality`` inputs, when
        given), as ``Stack.unsupported`` names them."""
        return [
            m.name
            for m in self.members
            if task not in m.tasks or (modality is not None and modality not in m.modalities)
        ]


class DeclaredConflict(ValueError):
    """Two members of a stack define the same owned hook (``Stack``'s ConflictError, word for word)."""


def stack_of(cfg: Any, params: tuple[dict[str, Any], ...]) -> StackFacts:
    """The facts of config ``cfg``'s stack built with its members' resolved ``params``; raises
    ValueError with ``build_stack``'s message when the stack conflicts."""
    declared = declared_stack([spec.name for spec in cfg.stack])
    if declared is not None:
        return declared
    from regbench.regularizers.build import build_stack  # the classes themselves (torch)

    return StackFacts(tuple(member_facts(m) for m in build_stack(cfg, params).members))


def declared_stack(names: list[str]) -> StackFacts | None:
    """The stack of regularizers ``names`` from ``catalog.declared``; None when it must be built
    from the classes (see the module docstring)."""
    return None if live("regularizers") else stack_from_catalog(names)


def stack_from_catalog(names: list[str]) -> StackFacts | None:
    """:func:`declared_stack` in any process (tests compare it with the classes'); raises
    :class:`DeclaredConflict` as ``Stack`` raises its ConflictError."""
    entries = CATALOG["regularizers"]
    if any(entries.get(n, {}).get("stack") is None for n in names):
        return None
    members = [MemberFacts.from_data(entries[n]["stack"]) for n in names]
    if len(members) == 1 and members[0].members:
        return StackFacts(members[0].members)
    overrides = [key for m in members for key in m.overrides]
    if len(overrides) != len(set(overrides)):
        return None
    for hook in CATALOG["owned_hooks"]:
        owners = [m.name for m in members if hook in m.hooks]
        if len(owners) > 1:
            raise DeclaredConflict(f"more than one regularizer defines {hook}: {', '.join(owners)}")
    return StackFacts(tuple(members))


def member_facts(r: Any) -> MemberFacts:
    """The facts of a constructed regularizer ``r`` (imports the stack module, and torch)."""
    from regbench.regularizers.stack import OWNED_HOOKS, Stack, _overrides, name_of

    return MemberFacts(
        name=name_of(r),
        kind=r.kind,
        tasks=tuple(r.tasks),
        modalities=tuple(r.modalities),
        needs_envs=bool(r.needs_envs),
        hooks=tuple(h for h in OWNED_HOOKS if _overrides(r, h)),
        overrides=tuple(r.model_overrides()),
        members=tuple(member_facts(m) for m in r.members) if isinstance(r, Stack) else (),
    )
