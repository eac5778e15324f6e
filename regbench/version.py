"""regbench's version (the one place it is written: pyproject.toml reads it from here) and the
provenance every published result carries: the code revision and the command line, with
machine-local paths taken out."""

from __future__ import annotations

import os
import subprocess
from functools import lru_cache
from pathlib import Path

__version__ = "0.1.0"

# the command line of the `regbench` invocation in progress, set by the CLI for the runs it
# starts: worker processes inherit the environment, so their records name the user's command
COMMAND_ENV = "REGBENCH_COMMAND"


@lru_cache(maxsize=4)
def git_commit(where: str | None = None) -> str | None:
    """``git rev-parse HEAD`` of the checkout holding ``where`` (default: regbench's own
    source), or None when it is not a git checkout or git is missing."""
    cwd = where or str(Path(__file__).resolve().parent)
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=cwd)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def published_path(path: str | Path, shipped: Path | None = None) -> str:
    """``path`` as a published file may name it: relative to ``shipped`` (the shipped suites'
    folder, as ``suites/<name>``), else to the working directory, else only its file name.

    A machine-local prefix (``/home/…``, ``/tmp/…``) never reaches a published file.
    """
    p = Path(os.path.expanduser(str(path)))
    if not p.is_absolute():
        return p.as_posix()
    p = p.resolve()
    if shipped is not None and p.is_relative_to(shipped.resolve()):
        return "suites/" + p.relative_to(shipped.resolve()).as_posix()
    cwd = Path.cwd().resolve()
    if p.is_relative_to(cwd):
        return p.relative_to(cwd).as_posix()
    return p.name


def published_command(argv: list[str]) -> str:
    """A command line as a published record may show it: ``regbench`` and its arguments, each
    absolute path (also in ``--opt=/path``) made relative (:func:`published_path`)."""

    def clean(arg: str) -> str:
        opt, eq, value = arg.partition("=") if arg.startswith("--") else ("", "", arg)
        if os.path.isabs(value) or value.startswith("~"):
            value = published_path(value)
        return f"{opt}{eq}{value}"

    return " ".join(["regbench", *(clean(a) for a in argv)])


def current_command() -> str | None:
    """The command line that started this process's runs (:data:`COMMAND_ENV`), or None when
    they were not started by the ``regbench`` command (the Python API, a test)."""
    return os.environ.get(COMMAND_ENV) or None
