"""Stopping a run on time or on Ctrl-C: one token the main thread, the runner and every request share.

`requests` bounds each socket read, not a request: a server that drips one byte a second, or a run of
checks that each wait their full timeout, can outlast any patience. So:

- every request runs inside `CancelToken.bound(seconds)`: the connections it uses are watched, and when the
  request passes its total time, or the token is stopped, a watchdog thread shuts their sockets down. A
  thread blocked in `recv` then wakes at once (shutdown, unlike close, wakes it on Linux), and the request
  fails; the caller asks the bound why (`expired` or `cancelled`) to name the cause.
- the token is a `threading.Event` (the bench driver's loops already test one) with a reason ("deadline"
  or "interrupted") and an optional run deadline; `run_until_stopped` runs the work in a thread and waits in the main
  thread, where signals arrive, and stops the token when the deadline passes or Ctrl-C is pressed.

`Cancelled` is a BaseException, like KeyboardInterrupt: a check's `except Exception` must not turn an
abandoned request into a finding about the server.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

DEADLINE = "deadline"
INTERRUPTED = "interrupted"
# `invoke bench`: every server was judged gone (liveness.py): nothing is left to send to.
SERVER_GONE = "server_gone"
# How often the watchdog looks at the requests in flight, and the main thread at the deadline.
TICK_SECONDS = 0.1
# A request's total limit is given this much past its timeout, so that a server silent from the start is
# still reported by requests' own read timeout ("did not answer in time"), which names the fault better.
EXPIRY_SLACK_SECONDS = 1.0
# After a stop, how long the main thread waits for the run's threads to notice before it reports without them.
GRACE_SECONDS = 10.0


class Cancelled(BaseException):
    """The run was stopped (its deadline passed, or Ctrl-C): what was in flight is abandoned, not judged."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CancelToken(threading.Event):
    """Set once, by the first of: the run's deadline, Ctrl-C or SIGTERM. `reason` says which."""

    def __init__(self, deadline_seconds: float | None = None) -> None:
        super().__init__()
        self.reason = ""
        self.signal_name = ""  # "SIGINT" or "SIGTERM" when interrupted (interrupts.SignalGuard names it)
        self.deadline_seconds = deadline_seconds
        self._deadline_at = time.monotonic() + deadline_seconds if deadline_seconds else None
        self._listeners: list[Callable[[], None]] = []

    def stop(self, reason: str, signal_name: str = "") -> bool:
        """Stop the run (the first reason given is kept); abandons every request in flight at once."""
        first = not self.is_set()
        if first:
            self.reason, self.signal_name = reason, signal_name or self.signal_name
            self.set()
            for listener in list(self._listeners):
                listener()
        _WATCHDOG.sweep()
        return first

    def on_stop(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def start_deadline(self, seconds: float | None) -> None:
        """The run's deadline, counted from now: known only once the pages are read (the token exists before,
        so that a Ctrl-C while they are read stops it too)."""
        self.deadline_seconds = seconds
        self._deadline_at = time.monotonic() + seconds if seconds else None

    def expire_if_due(self) -> None:
        if self._deadline_at is not None and time.monotonic() >= self._deadline_at:
            self.stop(DEADLINE)

    def seconds_left(self) -> float | None:
        return None if self._deadline_at is None else max(0.0, self._deadline_at - time.monotonic())

    def raise_if_stopped(self) -> None:
        if self.is_set():
            raise Cancelled(self.reason)

    def bound(self, seconds: float, watch: Any = None) -> RequestBound:
        """Watch the request(s) this thread sends in the block: abandoned when stopped or after ``seconds``, or
        dropped once ``watch`` (a liveness.HostWatch of the server asked) judges the server gone."""
        return RequestBound(self, seconds, watch)

    def describe(self) -> str:
        """ "the run's deadline (60 s) passed" / "interrupted (SIGINT)", for details and verdict lines."""
        if self.reason == DEADLINE:
            return f"the run's deadline ({self.deadline_seconds:g} s) passed"
        if self.reason == SERVER_GONE:
            return "the server was judged gone mid-run"
        return f"interrupted ({self.signal_name})" if self.signal_name else "interrupted"


class RequestBound:
    """One request's time limit in all (connect, send, every byte of the answer) and its link to the token."""

    def __init__(self, token: CancelToken, seconds: float, watch: Any = None) -> None:
        self.token = token
        self.seconds = seconds
        self.watch = watch
        self.expired = False
        self.cancelled = False
        self.dropped = False  # the server was judged gone while this request waited: no use waiting on
        self._limit_at = 0.0
        self._connections: list[HTTPConnection] = []
        self._lock = threading.Lock()
        self._outer: RequestBound | None = None  # a bound this one is nested in, restored on exit

    def __enter__(self) -> RequestBound:
        self.token.raise_if_stopped()  # no new request once the run is stopped
        self._limit_at = time.monotonic() + self.seconds + EXPIRY_SLACK_SECONDS
        self._outer = getattr(_local, "bound", None)
        _local.bound = self
        _WATCHDOG.add(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _local.bound = self._outer
        _WATCHDOG.remove(self)

    def attach(self, connection: HTTPConnection) -> None:
        with self._lock:
            self._connections.append(connection)
        if self.expired or self.cancelled or self.dropped:
            _shut(connection)

    def check(self, now: float) -> None:
        """Abandon the request when its token is stopped or its time is up (again each tick: a connection that
        was still being opened has a socket only later)."""
        if self.token.is_set():
            self.cancelled = True
        elif self.watch is not None and self.watch.gone:
            self.dropped = True
        elif now >= self._limit_at:
            self.expired = True
        else:
            return
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            _shut(connection)


def _shut(connection: HTTPConnection) -> None:
    sock = getattr(connection, "sock", None)
    if sock is None:
        return
    # The plain socket's shutdown, also for TLS: SSLSocket's own first drops its SSL object, under the feet
    # of the thread reading it. OSError: already closed or shut down.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread for the process: it checks the bounds in flight every tick."""

    def __init__(self) -> None:
        self._bounds: set[RequestBound] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, bound: RequestBound) -> None:
        with self._lock:
            self._bounds.add(bound)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="request-watchdog", daemon=True)
                self._thread.start()

    def remove(self, bound: RequestBound) -> None:
        with self._lock:
            self._bounds.discard(bound)

    def sweep(self) -> None:
        with self._lock:
            bounds = list(self._bounds)
        now = time.monotonic()
        for bound in bounds:
            bound.check(now)

    def _run(self) -> None:
        while True:
            time.sleep(TICK_SECONDS)
            self.sweep()


_WATCHDOG = _Watchdog()
_local = threading.local()


def _tracked(base: type[HTTPConnection]) -> type[HTTPConnection]:
    def request(self: HTTPConnection, *args: Any, **kwargs: Any) -> None:
        bound = getattr(_local, "bound", None)
        if bound is not None:
            bound.attach(self)
        base.request(self, *args, **kwargs)

    return type(f"Watched{base.__name__}", (base,), {"request": request})


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _tracked(HTTPConnection)


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _tracked(HTTPSConnection)


WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class WatchedAdapter(HTTPAdapter):
    """requests' adapter whose connections a `RequestBound` can shut down (proxied ones included)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = WATCHED_POOLS
        return manager


def run_until_stopped(work: Callable[[], None], token: CancelToken, name: str) -> None:
    """Run ``work`` in a thread while the main thread, where signals arrive, watches: it stops the token when
    its deadline passes or on Ctrl-C (KeyboardInterrupt), then gives ``work`` GRACE_SECONDS to wind down.
    Returns either way; the caller reports what finished. ``work`` must not raise.

    The wait is on an Event, not Thread.join: a join interrupted by KeyboardInterrupt marks the thread as
    stopped while it still runs (CPython's bpo-45274 repair), and every later join returns at once."""
    done = threading.Event()

    def run() -> None:
        try:
            work()
        finally:
            done.set()

    threading.Thread(target=run, name=name, daemon=True).start()
    try:
        while not done.wait(TICK_SECONDS) and not token.is_set():
            token.expire_if_due()
    except KeyboardInterrupt:
        token.stop(INTERRUPTED, token.signal_name or "SIGINT")
    done.wait(GRACE_SECONDS)
