"""Ctrl-C and SIGTERM during `invoke check` and `invoke bench`: the first stops the run, a second exits now.

The first signal raises KeyboardInterrupt in the main thread (signals reach no other), where
`cancel.run_until_stopped` turns it into a stopped token: requests are abandoned, and the command reports what
finished, marked partial, and exits 130. From then on the reports are being written; a second signal means
"now": one line on stderr and exit 130 at once, written with os.write and left by os._exit, since a
signal handler may run while the main thread holds the console's lock or the interpreter is mid-cleanup.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from types import FrameType
from typing import Any

from lightonocr_validation.cancel import CancelToken
from lightonocr_validation.errors import EXIT_INTERRUPTED

AGAIN_LINE = "interrupted again: reports not written"
FIRST_LINE = "interrupted: stopping, what finished is reported next (interrupt again to quit at once, without reports)"
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SignalGuard:
    """Installs the two-stage handling for the `with` block (main thread only; elsewhere it does nothing):
    the first signal names itself on ``token`` and raises KeyboardInterrupt; once ``token`` is stopped, for
    any reason, the next exits at once."""

    def __init__(self, token: CancelToken, again_line: str = AGAIN_LINE) -> None:
        self.token = token
        self.again_line = again_line
        self._previous: dict[int, Any] = {}
        token.on_stop(self.stopped)

    def __enter__(self) -> SignalGuard:
        if threading.current_thread() is threading.main_thread():
            for number in SIGNALS:
                self._previous[number] = signal.signal(number, self._first)
        return self

    @property
    def outermost(self) -> bool:
        """Python's own handlers were in place: the command is the process's, not nested in a task that
        handles signals itself (`invoke tune` runs bench and must stop its server whatever comes)."""
        defaults = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
        return all(self._previous.get(number) is handler for number, handler in defaults.items())

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

    def _first(self, number: int, frame: FrameType | None) -> None:
        if self.token.is_set():  # already stopping, for another reason, from another thread: this is "now"
            self._again(number, frame)
        self.token.signal_name = signal.Signals(number).name
        self.stopped()  # before anything else: a second signal must never meet a default handler
        with contextlib.suppress(OSError):
            os.write(2, f"{FIRST_LINE}\n".encode())
        raise KeyboardInterrupt

    def _again(self, number: int, frame: FrameType | None) -> None:
        with contextlib.suppress(OSError):
            os.write(2, f"{self.again_line}\n".encode())
        os._exit(EXIT_INTERRUPTED)


def leave_now_if_stuck(code: int) -> None:
    """After a stopped run's reports are written: exit with ``code`` now if a thread of the run is still
    blocked (a connection still being opened cannot be shut down); the interpreter would wait for it."""
    stuck = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    if stuck:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)
