"""The ``seq2seq`` model: :class:`Seq2SeqTransformer` sized from the dataset's vocabularies."""

from __future__ import annotations

from typing import Literal

from torch import nn

from regbench.data.base import DatasetInfo
from regbench.models import register_model
from regbench.models.seq2seq import Seq2SeqTransformer
from regbench.params import PositiveInt, Rate


@register_model("seq2seq")
def seq2seq(
    input_shape: tuple[int, ...],
    num_classes: int,
    info: DatasetInfo | None = None,
    width: PositiveInt = 64,
    depth: PositiveInt = 2,
    heads: PositiveInt = 4,
    dropout: Rate = 0.0,
    norm: Literal["layer", "rms"] = "layer",
    norm_first: bool = True,
    tie_weights: bool = False,
) -> nn.Module:
    """Encoder–decoder Transformer: forward(src (B, L), tgt_in (B, T)) → logits (B, T, num_classes).

    The source vocabulary, PAD id and longest sequence come from ``info.details``
    (``src_vocab``, ``pad_id``, ``max_src_len``, ``max_tgt_len``), as the SCAN loader sets
    them; ``num_classes`` is the target vocabulary. ``dropout`` is 0 here (unlike the class
    default) so that the ``dropout`` regularizer is a change from ERM, as for ``mlp``;
    ``tie_weights`` and ``norm_first`` are what ``weight_tying`` / ``pre_norm`` / ``post_norm`` set.
    """
    details = info.details if info is not None else {}
    if "src_vocab" not in details:
        name = info.name if info is not None else "?"
        raise ValueError(f"model 'seq2seq' needs a sequence dataset (details['src_vocab']); dataset '{name}' has none")
    max_len = max(int(details.get("max_src_len", input_shape[0])), int(details.get("max_tgt_len", input_shape[0])))
    return Seq2SeqTransformer(
        len(details["src_vocab"]),
        num_classes,
        width=width,
        depth=depth,
        heads=heads,
        dropout=dropout,
        norm=norm,
        norm_first=norm_first,
        tie_weights=tie_weights,
        max_len=max_len,
        pad_id=int(details.get("pad_id", 0)),
    )
