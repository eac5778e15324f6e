"""Token dropout, random swap and random deletion keep shapes and the padding convention."""

import pytest
import torch

from regbench.data.text_augment import random_deletion, random_swap, token_dropout

PAD, UNK = 0, 1


def _src() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(1, 10, (200,), generator=g)
    tokens = torch.randint(2, 15, (200, 9), generator=g)
    return torch.where(torch.arange(9)[None] < lengths[:, None], tokens, PAD)


def _gen(seed: int = 1) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _left_aligned(x: torch.Tensor) -> bool:
    real = (x != PAD).to(torch.int64)
    return bool((real[:, 1:] <= real[:, :-1]).all())  # no real token after a PAD


def test_token_dropout_replaces_only_real_tokens():
    src = _src()
    assert torch.equal(token_dropout(src, 0.0, _gen(), UNK), src)
    all_unk = token_dropout(src, 1.0, _gen(), UNK)
    assert torch.equal(all_unk, torch.where(src == PAD, PAD, UNK))
    half = token_dropout(src, 0.5, _gen(), UNK)
    changed = half != src
    assert half.shape == src.shape and (half[changed] == UNK).all() and not (src[changed] == PAD).any()
    assert 0.4 < changed.sum() / (src != PAD).sum() < 0.6
    assert torch.equal(half, token_dropout(src, 0.5, _gen(), UNK))  # same generator seed, same draw


def test_random_swap_permutes_within_each_row():
    src = _src()
    assert torch.equal(random_swap(src, 0, _gen()), src)
    out = random_swap(src, 3, _gen())
    assert out.shape == src.shape and torch.equal(out == PAD, src == PAD)
    assert torch.equal(out.sort(dim=1).values, src.sort(dim=1).values)  # same tokens per row
    assert not torch.equal(out, src)
    assert torch.equal(out, random_swap(src, 3, _gen()))


def test_random_deletion_keeps_an_ordered_left_aligned_subsequence():
    src = _src()
    assert torch.equal(random_deletion(src, 0.0, _gen()), src)
    out = random_deletion(src, 0.3, _gen())
    assert out.shape == src.shape and _left_aligned(out)
    assert ((out != PAD).sum(1) <= (src != PAD).sum(1)).all() and ((out != PAD).sum(1) >= 1).all()
    for before, after in zip(src.tolist(), out.tolist()):
        it = iter(t for t in before if t != PAD)
        assert all(t in it for t in after if t != PAD)  # a subsequence, order preserved
    one_left = random_deletion(src, 1.0, _gen())  # EDA keeps one token of an emptied row
    assert ((one_left != PAD).sum(1) == 1).all()
    assert all(row[0] in orig for row, orig in zip(one_left.tolist(), src.tolist()))


def test_bad_strengths_raise():
    src = _src()
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        token_dropout(src, 1.5, _gen(), UNK)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        random_deletion(src, -0.1, _gen())
    with pytest.raises(ValueError, match="≥ 0"):
        random_swap(src, -1, _gen())
