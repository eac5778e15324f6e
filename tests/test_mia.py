"""Membership-inference AUC (loss-threshold attack) on constructed losses."""

import pytest
import torch

from regbench.metrics.classification import membership_inference_auc


def test_same_distribution_is_about_one_half():
    g = torch.Generator().manual_seed(0)
    members, non_members = torch.rand(4000, generator=g), torch.rand(4000, generator=g)
    assert membership_inference_auc(members, non_members) == pytest.approx(0.5, abs=0.03)


def test_members_all_lower_is_one_and_all_higher_is_zero():
    members, non_members = torch.linspace(0, 1, 50), torch.linspace(2, 3, 70)
    assert membership_inference_auc(members, non_members) == 1.0
    assert membership_inference_auc(non_members, members) == 0.0


def test_ties_count_half():
    assert membership_inference_auc(torch.ones(10), torch.ones(7)) == 0.5
    # one member below, one tied with the single non-member: (1 + 0.5) / 2
    assert membership_inference_auc(torch.tensor([0.0, 1.0]), torch.tensor([1.0])) == 0.75


def test_empty_side_is_nan():
    assert torch.isnan(torch.tensor(membership_inference_auc(torch.ones(3), torch.ones(0))))
