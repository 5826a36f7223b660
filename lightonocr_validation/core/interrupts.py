"""Ctrl-C and SIGTERM during `invoke check` and `invoke bench`: the first stops the run, a second exits now.

The first signal raises KeyboardInterrupt in the main thread (signals reach no other), where
`cancel.run_until_stopped` turns it into a stopped token: requests are abandoned, and the command reports what
finished, marked partial, and exits 130. From then on the reports are being written; a second signal means
"now": one line on stderr and exit 130 at once, written with os.write and left by os._exit, since a
signal handler may run while the main thread holds the console's lock or the interpreter is mid-cleanup.

Before a task runs, while tasks.py imports its modules and invoke reads the configuration (seconds on a busy
machine), a Ctrl-C is held (`hold_signals`): noted, not raised, because invoke's own Program would end a
KeyboardInterrupt there with exit 1 and not a word. The project's Program hands it on when the task starts
(`release_signals`): `invoke check` writes the reports asked for, every check "not run", and exits 130.

Stdlib only at import: tasks.py imports this module first, so that the hold starts as early as it can.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from lightonocr_validation.core.errors import EXIT_INTERRUPTED

if TYPE_CHECKING:
    from lightonocr_validation.core.cancel import CancelToken

AGAIN_LINE = "interrupted again: reports not written"
FIRST_LINE = "interrupted: stopping, what finished is reported next (interrupt again to quit at once, without reports)"
HELD_LINE = "interrupted: stopping before the task starts (interrupt again to quit at once)"
LATE_LINE = "interrupted: the checks had finished; their reports are written next (interrupt again to quit at once)"
SIGNALS = (signal.SIGINT, signal.SIGTERM)
# The names the stock invoke program runs under; the project's Program takes its command line over (cli.py).
STOCK_NAMES = ("invoke", "inv")
# Python's own handlers: what a process that neither ignores a signal nor handles it itself has.
PYTHON_HANDLERS: dict[int, Any] = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}


def stock_invoke(argv: list[str]) -> bool:
    """`invoke ...`, `inv ...` or `python -m invoke ...`."""
    if not argv:
        return False
    launcher = Path(argv[0])
    return launcher.name in STOCK_NAMES or (launcher.name == "__main__.py" and launcher.parent.name == "invoke")


_held: list[str] = []  # the signal held before the task ran ("SIGINT"), at most one


def _hold(number: int, frame: FrameType | None) -> None:
    if _held:
        with contextlib.suppress(OSError):
            os.write(2, b"interrupted again: stopped at once\n")
        os._exit(EXIT_INTERRUPTED)
    _held.append(signal.Signals(number).name)
    with contextlib.suppress(OSError):
        os.write(2, f"{HELD_LINE}\n".encode())


def hold_signals(argv: list[str]) -> None:
    """Hold Ctrl-C and SIGTERM until `release_signals`, when tasks.py is loaded by the stock invoke (not by a
    test or the docs generator) in the main thread; a signal the process was started ignoring stays ignored."""
    if not stock_invoke(argv) or threading.current_thread() is not threading.main_thread():
        return
    for number, python_default in PYTHON_HANDLERS.items():
        if signal.getsignal(number) is python_default:
            signal.signal(number, _hold)


def release_signals() -> str:
    """Python's handlers back where the hold was; the signal held meanwhile ("SIGINT"), or ""."""
    for number, python_default in PYTHON_HANDLERS.items():
        if signal.getsignal(number) is _hold:
            signal.signal(number, python_default)
    return held_signal()


def held_signal() -> str:
    return _held[0] if _held else ""


class SignalGuard:
    """Installs the two-stage handling for the `with` block (main thread only; elsewhere it does nothing):
    the first signal names itself on ``token`` and raises KeyboardInterrupt; once ``token`` is stopped, for
    any reason, the next exits at once."""

    def __init__(self, token: CancelToken, again_line: str = AGAIN_LINE) -> None:
        self.token = token
        self.again_line = again_line
        self._previous: dict[int, Any] = {}
        # Set once the run is over (`finished`): a first signal then stops the token without raising, so that
        # the verdict and the reports already under way are written whole.
        self._late = False
        token.on_stop(self.stopped)

    def __enter__(self) -> SignalGuard:
        if threading.current_thread() is threading.main_thread():
            for number in SIGNALS:
                self._previous[number] = signal.signal(number, self._first)
            if self.outermost:  # the command's own run, not one nested in `invoke tune`'s
                _begin_run()
        return self

    @property
    def outermost(self) -> bool:
        """Python's own handlers were in place: the command is the process's, not nested in a task that
        handles signals itself (`invoke tune` runs bench and must stop its server whatever comes)."""
        return all(self._previous.get(number) in (handler, _hold) for number, handler in PYTHON_HANDLERS.items())

    def __exit__(self, *exc: object) -> None:
        if self.token.is_set() and self.outermost:
            return  # the process is on its way out: a signal now still means "at once", not a traceback
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()

    def stopped(self) -> None:
        """The run is stopping (any reason): the next signal exits at once. Handlers can be set from the main
        thread only; a stop from another thread (a bench whose servers were all judged gone) is met by `_first`."""
        if threading.current_thread() is not threading.main_thread():
            return
        for number in self._previous:
            signal.signal(number, self._again)

    def finished(self) -> None:
        """The run is over: what is left is rendering and writing; a first signal no longer raises."""
        self._late = True

    def _first(self, number: int, frame: FrameType | None) -> None:
        if self.token.is_set():  # already stopping, for another reason, from another thread: this is "now"
            self._again(number, frame)
        self.token.signal_name = signal.Signals(number).name
        self.stopped()  # before anything else: a second signal must never meet a default handler
        with contextlib.suppress(OSError):
            os.write(2, f"{LATE_LINE if self._late else FIRST_LINE}\n".encode())
        if self._late:
            from lightonocr_validation.core.cancel import INTERRUPTED  # loaded long since: the token is one

            self.token.stop(INTERRUPTED, self.token.signal_name)
            return
        raise KeyboardInterrupt

    def _again(self, number: int, frame: FrameType | None) -> None:
        with contextlib.suppress(OSError):
            os.write(2, f"{self.again_line}\n".encode())
        os._exit(EXIT_INTERRUPTED)


# The threads alive when the run began (`_begin_run`, as the outermost SignalGuard is entered): none is the
# run's, busy or idle (a test process's own, or one a library started earlier), so none makes
# `leave_now_if_stuck` leave by os._exit.
_before_run: frozenset[threading.Thread] = frozenset()


def _begin_run() -> None:
    """Note the threads alive now: `leave_now_if_stuck` counts only those started after (the outermost
    SignalGuard calls it as the command's run begins)."""
    global _before_run
    _before_run = frozenset(threading.enumerate())


def stuck_threads() -> list[threading.Thread]:
    """The threads the run started that would keep the interpreter from exiting: alive, not daemons, and not a
    pool's worker waiting for its next task. Such a worker ends at exit (its pool's exit hook wakes it): the KaTeX
    renderer's QuickJS thread is one, started by the first formula a run renders; counted as stuck, it made
    every run that graded a formula leave by os._exit, a test process included."""
    # concurrent.futures' worker loop: a worker whose innermost Python frame is the loop itself waits on its
    # queue (a C call). A Python without it counts every worker, as before the rule (os._exit after the
    # reports), and tests/core/test_interrupt.py fails, not a user's run.
    from concurrent.futures import thread as pool

    frames = sys._current_frames()
    waiting = getattr(getattr(pool, "_worker", None), "__code__", None)
    return [
        t
        for t in threading.enumerate()
        if t is not threading.main_thread()
        and not t.daemon
        and t.is_alive()
        and t not in _before_run
        and getattr(frames.get(t.ident or 0), "f_code", None) is not waiting
    ]


def leave_now_if_stuck(code: int) -> None:
    """After a stopped run's reports are written: exit with ``code`` now if a thread of the run is still
    blocked (a connection still being opened cannot be shut down); the interpreter would wait for it."""
    stuck = stuck_threads()
    if stuck:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)
