"""The ``regbench`` commands: one module per command, each a thin layer over the library.

Each module has ``add_parser(subparsers)`` (its flags) and ``run(args) -> int`` (its exit
code). They import the harness, the report and the store inside ``run``, so that
``regbench --help`` and ``regbench validate`` start without importing torch (3–4 s here).
This is the last stage: it may import anything; nothing imports it but ``cli``.
"""

# command name → module, in the order `regbench --help` lists them
COMMANDS = {
    "run": "regbench.commands.run",
    "compare": "regbench.commands.compare",
    "leaderboard": "regbench.commands.leaderboard",
    "diagnose": "regbench.commands.diagnose",
    "list": "regbench.commands.list",
    "validate": "regbench.commands.validate",
    "data": "regbench.commands.data",
    "export": "regbench.commands.export",
    "runs": "regbench.commands.runs",
    "verify": "regbench.commands.verify",
}
