"""Tasks: what a model predicts, declared once by the dataset that needs it.

A dataset registers its task (``@register_dataset("scan", task="seq2seq")``) and its
:class:`~regbench.data.base.DatasetInfo` carries it as ``info.task``. The task object owns
everything that depends on what the model predicts — the targets the regularizers see, the
model call, the data loss, the "correct" count, validation and the test-time evaluation —
so :func:`regbench.train.loop.train` is the only training loop and
:func:`regbench.harness.run_one.run_one` evaluates through ``task.evaluate`` without asking
which task it is. A new task is one module here and one line in ``TASK_MODULES``.

This package may import metrics, evaluate, regularizers and the data types; the training
loop and the harness import it.
"""

from __future__ import annotations

import importlib

from regbench.data.base import DatasetInfo
from regbench.registry import Registry
from regbench.regularizers.stack import Stack

TASKS: Registry = Registry("task")
TASK_MODULES = ["regbench.tasks.classification", "regbench.tasks.seq2seq"]


def register_task(name: str):
    """Class decorator: ``@register_task("seq2seq")``. The class has ``build(info, stack)``."""
    return TASKS.register(name)


class UnsupportedRegularizer(ValueError):
    """A regularizer was paired with a task it does not apply to (e.g. mixup on SCAN)."""


def unsupported_message(names: list[str], task: str, where: str = "") -> str:
    """One line: which regularizers do not apply to ``task``."""
    return (
        f"{'regularizer' if len(names) == 1 else 'regularizers'} {', '.join(repr(n) for n in names)} "
        f"cannot be used on a {task} task{where}: each regularizer declares the tasks it applies to "
        f"(`regbench list regularizers` shows them)"
    )


def task_for(info: DatasetInfo, stack: Stack | None = None):
    """The task object of a dataset (``info.task``; an unknown name raises UnknownNameError).

    The task class chooses its variant for ``stack`` (classification keeps hard labels when
    no regularizer transforms batches or replaces the loss).
    """
    if info.task not in TASKS:
        for module in TASK_MODULES:
            importlib.import_module(module)
    return TASKS.get(info.task).build(info, stack)


def check_supported(stack: Stack, task: str) -> None:
    """Raise :class:`UnsupportedRegularizer` (one line) if a member does not apply to ``task``."""
    bad = stack.unsupported(task)
    if bad:
        raise UnsupportedRegularizer(unsupported_message(bad, task))


def evaluate(model, splits, seed: int, device):
    """Evaluate a trained model on every split of ``splits`` through its dataset's task.

    model: the trained module on ``device``; splits: :class:`~regbench.data.base.Splits`.
    Returns an :class:`~regbench.evaluate.records.Evaluation`.
    """
    return task_for(splits.info).evaluate(model, splits, seed, device)
