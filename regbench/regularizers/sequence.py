"""Regularizers that exist only for sequence models (kind ``sequence``, task ``seq2seq``).

Architecture choices are model overrides of :func:`regbench.models.seq2seq_builder.seq2seq`
(weight tying, pre-/post-norm); input noise acts on the command side (x: (B, L) int64 source
ids, real tokens first, PAD after) through :mod:`regbench.data.text_augment`, with every
random draw from the run's seeded augmentation generator. The target side is never changed.

The EDA edits (swap, deletion; Wei & Zou 2019, https://arxiv.org/abs/1901.11196) keep the
original target, which is right where a small edit keeps the meaning (EDA's classification
regime) and wrong where the target is a function of the command: on SCAN "jump twice after
walk" swapped is another command with another action sequence, so keeping the target is
label corruption. A dataset says so with ``details["target_is_function_of_source"]``, and
word_swap and word_deletion refuse to run on it (token_dropout writes UNK, which changes no
command into another, and stays allowed).
"""

from __future__ import annotations

from typing import Annotated, Any

import torch
from pydantic import Field
from torch import nn

from regbench.data.text_augment import random_deletion, random_swap, token_dropout
from regbench.params import NonNegativeInt
from regbench.registry import UserError
from regbench.regularizers import register_regularizer
from regbench.regularizers.base import History, Regularizer, SetupContext

Probability = Annotated[float, Field(ge=0.0, le=1.0)]  # checked when the suite loads


class _Sequence(Regularizer):
    kind = "sequence"
    tasks = ("seq2seq",)


@register_regularizer("weight_tying")
class WeightTying(_Sequence):
    """Tie the decoder input embedding to the output projection (Press & Wolf, arXiv:1608.05859).

    Records ``tied_params_saved``, the parameters removed (target vocabulary × width).
    """

    def model_overrides(self) -> dict[str, Any]:
        return {"tie_weights": True}

    def finish(self, model: nn.Module, history: History) -> dict[str, float]:
        # Counted from the model itself: a tensor listed under several names is one tensor.
        every = sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False))
        return {"tied_params_saved": float(every - sum(p.numel() for p in model.parameters()))}


@register_regularizer("pre_norm")
class PreNorm(_Sequence):
    """Pre-norm residual blocks, x + f(norm(x)) (Xiong et al. 2020, https://arxiv.org/abs/2002.04745)."""

    def model_overrides(self) -> dict[str, Any]:
        return {"norm_first": True}


@register_regularizer("post_norm")
class PostNorm(_Sequence):
    """Post-norm residual blocks, norm(x + f(x)), as in the original Transformer (Vaswani et al. 2017)."""

    def model_overrides(self) -> dict[str, Any]:
        return {"norm_first": False}


class _SourceNoise(_Sequence):
    """Reads the PAD / UNK ids of the dataset at setup (``DatasetInfo.details``)."""

    def setup(self, ctx: SetupContext) -> None:
        self._pad = int(ctx.details.get("pad_id", 0))
        self._unk = int(ctx.details.get("unk_id", 1))


@register_regularizer("token_dropout")
class TokenDropout(_SourceNoise):
    """Word dropout: replace each command word by UNK with probability p (Bowman et al., arXiv:1511.06349).

    Also Iyyer et al. 2015 (https://aclanthology.org/P15-1162).
    """

    def __init__(self, p: Probability = 0.1):
        self.p = p

    def transform(self, x: torch.Tensor, y: torch.Tensor, g: torch.Generator):
        return token_dropout(x, self.p, g, self._unk, self._pad), y


class EditChangesTarget(UserError):
    """An edit of the command would need a new target, which the regularizer cannot compute."""


class _CommandEdit(_SourceNoise):
    """An EDA edit that keeps the target: refused where the target is a function of the command."""

    def setup(self, ctx: SetupContext) -> None:
        if ctx.details.get("target_is_function_of_source"):
            raise EditChangesTarget(
                f"{type(self).__name__} edits commands but keeps their targets; on '{ctx.dataset}' the target "
                "is a function of the command, so the edited pair would be mislabelled. Use token_dropout instead."
            )
        super().setup(ctx)


@register_regularizer("word_swap")
class WordSwap(_CommandEdit):
    """EDA random swap: swap two random command words, n times per command (Wei & Zou, arXiv:1901.11196)."""

    def __init__(self, n: NonNegativeInt = 1):
        self.n = n

    def transform(self, x: torch.Tensor, y: torch.Tensor, g: torch.Generator):
        return random_swap(x, self.n, g, self._pad), y


@register_regularizer("word_deletion")
class WordDeletion(_CommandEdit):
    """EDA random deletion: drop each command word with probability p, never all (Wei & Zou, arXiv:1901.11196)."""

    def __init__(self, p: Probability = 0.1):
        self.p = p

    def transform(self, x: torch.Tensor, y: torch.Tensor, g: torch.Generator):
        return random_deletion(x, self.p, g, self._pad), y
