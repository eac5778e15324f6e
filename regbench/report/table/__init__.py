"""Run records → the leaderboard's frames: the second stage of the report (no torch).

``columns`` declares every column once; ``run_rows`` makes one row per run; ``cell_estimates``
reduces the runs of each (benchmark, regularizer) cell to means, intervals and bootstrap
replicates; ``leaderboard_frames`` turns those into the per-cell and per-regularizer frames;
``not_applicable`` fills the cells of pairs that cannot run; ``aggregate`` ties them into a
``Leaderboard``. ``column_choice`` says which columns a reader sees (compact or full), and
``model_selection`` and ``selection_rule`` which sweep config a sweep chooses (the best
validation mean, or the one-standard-error rule) and why.
"""
