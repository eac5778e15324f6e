"""Each pool worker leads its own process group, so whatever its runs start goes with it.

A hook may start child processes (a data loader, a ``subprocess.Popen``). Killing only the
worker would leave them running, holding a GPU or regbench's stdout (``regbench run … | cat``
would never end). So the worker puts itself in a process group of its own
(:func:`lead_own_group`), and the driver ends a worker by killing that group
(:func:`kill_group`).

A worker also ends its group when its driver dies (:func:`die_with_parent`): on Linux the
kernel signals it at once (``PR_SET_PDEATHSIG``), and everywhere a thread checks that the
parent pid is unchanged. An orphan therefore never finishes a run whose result nobody will
record while the next invocation, having reclaimed the dead driver's leases, trains it again.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PARENT_CHECK_S = 1.0  # how often a worker checks that its driver is alive (the portable fallback)


def lead_own_group() -> bool:
    """Make this process the leader of a new process group; False where that is not possible."""
    if not hasattr(os, "setpgid"):  # Windows: no process groups
        return False
    try:
        os.setpgid(0, 0)
    except OSError:
        return False
    return True


def end_own_group() -> None:
    """Kill this process and every process of its group (when it leads one), at once."""
    if hasattr(os, "killpg") and os.getpgid(0) == os.getpid():
        os.killpg(os.getpid(), signal.SIGKILL)
    os._exit(1)  # no group of its own: this process alone


def die_with_parent(parent: int, every: float = PARENT_CHECK_S) -> None:
    """End this process's group as soon as ``parent`` (its driver) is gone.

    SIGTERM (the parent-death signal on Linux, and what ``Process.terminate`` sends) ends the
    group too. The watchdog thread runs while the main thread is in a hook, so a hung hook
    cannot keep an orphan alive.
    """
    signal.signal(signal.SIGTERM, lambda *_: end_own_group())
    _parent_death_signal(signal.SIGTERM)
    if os.getppid() != parent:  # the driver died before the signal was armed
        end_own_group()

    def watch() -> None:
        while True:
            time.sleep(every)
            if os.getppid() != parent:
                end_own_group()

    threading.Thread(target=watch, name="regbench-parent-watchdog", daemon=True).start()


def _parent_death_signal(signum: int) -> bool:
    """Ask Linux to send ``signum`` to this process when its parent dies; False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) == 0
    except (OSError, AttributeError):  # no libc or no prctl: the watchdog thread still covers it
        return False


def kill_group(pid: int) -> None:
    """SIGKILL every process of the group that worker ``pid`` leads (the worker included).

    A worker that has not reached :func:`lead_own_group` yet has no group (and has started
    nothing: the caller kills the worker itself); a group whose processes have all exited is
    gone: both are fine.
    """
    if not hasattr(os, "killpg"):
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
