"""The ``regbench`` command: the parser and the error handling; each command is a module of
:mod:`regbench.commands`. Commands import torch only when they run, so ``--help``,
``--version`` and ``validate``'s errors start fast."""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys

from regbench.commands import COMMANDS
from regbench.registry import UserError
from regbench.store import is_store_error, store_error
from regbench.version import COMMAND_ENV, __version__, published_command


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="regbench", description="Benchmark regularizers under distribution shift.")
    p.add_argument("--version", action="version", version=f"regbench {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS.values():
        importlib.import_module(module).add_parser(sub)
    return p


def _shown(message: object) -> str:
    """An error message as one may print it: its text can quote a suite's labels or a plugin's
    errors, whose control characters (terminal escape codes) are made visible, never sent raw."""
    from regbench.report.render.escape import plain  # only on an error: the report stage loads pandas

    return plain(message)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # the runs this command trains record it (their env's "command"), without local paths
    previous = os.environ.get(COMMAND_ENV)
    os.environ[COMMAND_ENV] = published_command(sys.argv[1:] if argv is None else list(argv))
    try:
        return importlib.import_module(COMMANDS[args.command]).run(args)
    except UserError as err:  # the user's to fix: one line, never a traceback
        print(f"error: {_shown(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: finished runs are in the store; run the same command to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `regbench list … | head`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as err:
        if err.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        print(f"error: disk full: cannot write {_shown(err.filename or 'a file')} ({err.strerror})", file=sys.stderr)
        return 1
    except Exception as err:  # (not a broken pipe) an SQLite error reading or writing the store: one line too
        if not (is_store_error(err) and getattr(args, "store", None)):
            raise
        print(f"error: {_shown(store_error(args.store, err))}", file=sys.stderr)
        return 1
    finally:
        if previous is None:
            os.environ.pop(COMMAND_ENV, None)
        else:
            os.environ[COMMAND_ENV] = previous


if __name__ == "__main__":
    sys.exit(main())
