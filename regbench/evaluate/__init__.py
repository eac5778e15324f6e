"""Evaluation: a trained model × the test splits → metric rows, after training has ended.

This is the only code that reads test data. ``records`` holds what every task produces
(:class:`~regbench.evaluate.records.Evaluation`, packed predictions, run-level numbers);
``classify`` and ``seq2seq`` evaluate one task each; ``sharpness`` measures the loss rise
at a fixed radius of every classification run's final weights (on training data). A task object
(:mod:`regbench.tasks`) calls its own evaluator, so nothing here tests which task it is.
May import metrics, the data types and seeding; never the trainer or the harness.
"""
