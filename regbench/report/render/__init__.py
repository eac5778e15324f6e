"""A ``Leaderboard`` → what a reader sees: the last stage of the report (no torch).

``display`` is the text of every cell and row, shared by all writers so the files cannot
disagree; ``readme`` (README.md), ``exports`` (CSV, JSON), ``tex``, ``html`` (with its
``html_template``) and ``terminal`` write it; ``plots`` and ``shift_plots`` draw the PNGs
under one ``theme``; ``markdown`` escapes and tabulates for every Markdown report, and
``selection_table`` is a sweep's selection.md.
"""
