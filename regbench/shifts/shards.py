"""Which families share out the held-out test images, and the rule's version, without the
sharding code (``shifts.held_out``, torch): the plan hashes both into a benchmark's data key
(``harness.plan``), and a suite is planned without torch (``regbench validate``)."""

from __future__ import annotations

SHARES = {"covariate": 1, "label": 2, "spurious": 1}  # families whose OOD splits come from the test part
RULE = "family-shards-1"  # hashed into the data key: a changed rule never reads an old split cache
