"""A small encoder–decoder Transformer for SCAN-style sequence transduction.

Vaswani et al. 2017, https://arxiv.org/abs/1706.03762, with the knobs the sequence
regularizers need: pre-norm vs post-norm (Xiong et al. 2020, https://arxiv.org/abs/2002.04745),
LayerNorm or RMSNorm (Zhang & Sennrich 2019, https://arxiv.org/abs/1910.07467), dropout, and
weight tying of the decoder input embedding with the output projection (Press & Wolf 2017,
https://arxiv.org/abs/1608.05859). Built from torch primitives so that every mask is explicit.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

NORMS = {"layer": nn.LayerNorm, "rms": nn.RMSNorm}


def make_norm(kind: str, width: int) -> nn.Module:
    if kind not in NORMS:
        raise ValueError(f"norm must be one of {sorted(NORMS)}, got {kind!r}")
    return NORMS[kind](width)


def sinusoidal_positions(max_len: int, width: int) -> torch.Tensor:
    """(max_len, width) fixed sine/cosine position codes (Vaswani et al. §3.5)."""
    pos = torch.arange(max_len, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10000.0) / width))
    pe = torch.zeros(max_len, width)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq[: width // 2])
    return pe


class Attention(nn.Module):
    """Multi-head attention; ``mask`` (B or 1, 1, Lq, Lk) bool is True where attending is allowed."""

    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} must be divisible by heads {heads}")
        self.heads, self.dropout = heads, dropout
        self.q = nn.Linear(width, width)
        self.kv = nn.Linear(width, 2 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, lq, w = x.shape
        q = self.q(x).view(b, lq, self.heads, -1).transpose(1, 2)  # (B, nh, Lq, hs)
        k, v = self.kv(memory).view(b, memory.shape[1], 2, self.heads, -1).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0)
        return self.out(y.transpose(1, 2).reshape(b, lq, w))


class Block(nn.Module):
    """Self-attention, optional cross-attention, feed-forward; each a residual sub-layer."""

    def __init__(self, width: int, heads: int, dropout: float, norm: str, norm_first: bool, cross: bool):
        super().__init__()
        self.norm_first = norm_first
        self.attn = Attention(width, heads, dropout)
        self.cross = Attention(width, heads, dropout) if cross else None
        self.ff = nn.Sequential(
            nn.Linear(width, 4 * width), nn.GELU(), nn.Dropout(dropout), nn.Linear(4 * width, width)
        )
        self.norms = nn.ModuleList(make_norm(norm, width) for _ in range(3 if cross else 2))
        self.drop = nn.Dropout(dropout)

    def _sub(self, i: int, x: torch.Tensor, fn) -> torch.Tensor:
        if self.norm_first:  # pre-norm: x + f(norm(x))
            return x + self.drop(fn(self.norms[i](x)))
        return self.norms[i](x + self.drop(fn(x)))  # post-norm: norm(x + f(x))

    def forward(self, x, self_mask, memory=None, cross_mask=None):
        x = self._sub(0, x, lambda h: self.attn(h, h, self_mask))
        if self.cross is not None:
            x = self._sub(1, x, lambda h: self.cross(h, memory, cross_mask))
        return self._sub(len(self.norms) - 1, x, self.ff)


class Seq2SeqTransformer(nn.Module):
    """Encoder–decoder Transformer: ``forward(src, tgt_in) -> logits``, ``greedy_decode``.

    src: (B, Ls) int64, tgt_in: (B, Lt) int64 (BOS a_1 … a_{n}), ``pad_id`` marks padding on
    both sides. ``tie_weights`` makes the decoder input embedding and the output projection one
    Parameter, which removes exactly ``tgt_vocab · width`` parameters.
    """

    def __init__(
        self,
        src_vocab: int,
        tgt_vocab: int,
        width: int = 64,
        depth: int = 2,  # encoder layers = decoder layers = depth
        heads: int = 4,
        dropout: float = 0.1,  # on embeddings, attention weights, residual branches, FF hidden
        norm: str = "layer",  # "layer" | "rms"
        norm_first: bool = True,  # pre-norm (True) or post-norm (False)
        tie_weights: bool = False,
        max_len: int = 64,  # longest sequence (either side) the position table covers
        pad_id: int = 0,
    ):
        super().__init__()
        self.width, self.pad_id, self.max_len = width, pad_id, max_len
        self.src_embed = nn.Embedding(src_vocab, width)
        self.tgt_embed = nn.Embedding(tgt_vocab, width)
        self.register_buffer("pos", sinusoidal_positions(max_len, width), persistent=False)
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.ModuleList(Block(width, heads, dropout, norm, norm_first, cross=False) for _ in range(depth))
        self.decoder = nn.ModuleList(Block(width, heads, dropout, norm, norm_first, cross=True) for _ in range(depth))
        # Pre-norm leaves the residual stream un-normalised, so it needs a final norm per stack.
        self.enc_norm = make_norm(norm, width) if norm_first else nn.Identity()
        self.dec_norm = make_norm(norm, width) if norm_first else nn.Identity()
        self.head = nn.Linear(width, tgt_vocab, bias=False)
        # Embeddings ~ N(0, 1/width), scaled by √width on the way in (Vaswani §3.4), so a tied
        # head starts with unit-scale logits as an untied Linear does.
        for emb in (self.src_embed, self.tgt_embed):
            nn.init.normal_(emb.weight, std=width**-0.5)
        if tie_weights:
            self.head.weight = self.tgt_embed.weight  # one Parameter, counted once by .parameters()

    def _embed(self, emb: nn.Embedding, ids: torch.Tensor) -> torch.Tensor:
        if ids.shape[1] > self.max_len:
            raise ValueError(f"sequence length {ids.shape[1]} exceeds the model's max_len {self.max_len}")
        return self.drop(emb(ids) * math.sqrt(self.width) + self.pos[: ids.shape[1]])

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Memory (B, Ls, W) and the key mask (B, 1, 1, Ls) bool of non-PAD source tokens."""
        key_ok = (src != self.pad_id)[:, None, None, :]
        x = self._embed(self.src_embed, src)
        for block in self.encoder:
            x = block(x, key_ok)
        return self.enc_norm(x), key_ok

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, src_ok: torch.Tensor) -> torch.Tensor:
        """Logits (B, Lt, V) for every decoder position given the encoder memory."""
        lt = tgt_in.shape[1]
        causal = torch.ones(lt, lt, dtype=torch.bool, device=tgt_in.device).tril()
        # Causal AND non-PAD keys. BOS (position 0) is never PAD, so no query row is fully masked.
        self_ok = causal[None, None] & (tgt_in != self.pad_id)[:, None, None, :]
        x = self._embed(self.tgt_embed, tgt_in)
        for block in self.decoder:
            x = block(x, self_ok, memory, src_ok)
        return self.head(self.dec_norm(x))

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits: src (B, Ls), tgt_in (B, Lt) → (B, Lt, V)."""
        memory, src_ok = self.encode(src)
        return self.decode(tgt_in, memory, src_ok)

    @torch.no_grad()
    def greedy_decode(self, src: torch.Tensor, max_len: int, bos: int, eos: int) -> torch.Tensor:
        """Greedy outputs (B, T) int64 with T ≤ ``max_len``, BOS not included.

        Each row ends at its first EOS (kept) and is PAD after it; a row that reaches
        ``max_len`` without EOS is cut there. Stops early once every row has produced EOS.
        Switch the model to eval() first for deterministic output (dropout is not disabled here).
        """
        if max_len + 1 > self.max_len:
            raise ValueError(f"max_len {max_len} (+ BOS) exceeds the model's max_len {self.max_len}")
        memory, src_ok = self.encode(src)
        ys = torch.full((src.shape[0], 1), bos, dtype=torch.int64, device=src.device)
        done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(max_len):
            # No KV cache: recomputing ≤ 50 short positions is cheap next to the bookkeeping.
            nxt = self.decode(ys, memory, src_ok)[:, -1].argmax(-1)
            nxt = torch.where(done, torch.full_like(nxt, self.pad_id), nxt)
            ys = torch.cat([ys, nxt[:, None]], dim=1)
            done |= nxt == eos
            if bool(done.all()):
                break
        return ys[:, 1:]


def count_parameters(model: nn.Module) -> int:
    """Number of distinct parameter elements (a tied tensor counts once)."""
    return sum(p.numel() for p in model.parameters())
