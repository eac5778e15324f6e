"""DomainBed ColoredMNIST's parameters (``shifts.colored_mnist_domainbed``)."""

from __future__ import annotations

from pydantic import Field, model_validator

from regbench.shifts.base import ShiftParams


class ColoredMNISTDomainBedParams(ShiftParams):
    """Knobs of DomainBed's ColoredMNIST; the defaults are DomainBed's."""

    # P(colour ≠ label) of each environment, in order: '+90%', '+80%', '-90%'
    environments: tuple[float, ...] = Field((0.1, 0.2, 0.9), min_length=2)
    test_envs: tuple[int, ...] = Field((2,), min_length=1)  # indices into environments
    label_noise: float = Field(0.25, ge=0, lt=0.5)  # P(label ≠ digit < 5)
    holdout_fraction: float = Field(0.2, gt=0, lt=1)  # each environment's out part
    downsample: int = Field(1, ge=1)  # DomainBed keeps 28×28

    @model_validator(mode="after")
    def _test_envs_exist(self) -> ColoredMNISTDomainBedParams:
        n = len(self.environments)
        if any(not 0 <= e < n for e in self.test_envs) or len(set(self.test_envs)) != len(self.test_envs):
            raise ValueError(f"test_envs {list(self.test_envs)} must be distinct indices of the {n} environments")
        if len(self.test_envs) >= n:
            raise ValueError("at least one environment must be a training environment")
        if any(not 0 <= p <= 1 for p in self.environments):
            raise ValueError(f"environments are colour-flip probabilities in [0, 1], got {list(self.environments)}")
        return self

    def training_envs(self) -> int:
        return len(self.environments) - len(self.test_envs)
