"""Each shift family's parameter model, in modules that import no torch.

A suite's shift block is validated against these when it loads (``regbench validate``), and
a benchmark's training environments are read from them (``ShiftParams.training_envs``), so
that checking a suite needs neither the families' modules nor torch. Each family's module
(``shifts/<family>.py``) imports its model from the module of the same name here.
"""
