"""Open a page in real headless Chromium and see what it did: every request it made, its console, its DOM.

Chromium is driven through the DevTools protocol over a pipe (`--remote-debugging-pipe`: commands in on file
descriptor 3, answers and events out on 4, each a JSON message ended by a NUL byte), so the test needs no
driver binary, no WebSocket library and no open port.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--remote-debugging-pipe",
)
INSTALL_HINT = "install it (apt-get install -y chromium; `nox -s tests` does this as root)"


class BrowserError(RuntimeError):
    pass


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Chromium:
    """One headless Chromium; `with Chromium(profile) as browser: page = browser.open(url)`."""

    def __init__(self, profile: Path, timeout: float = 60.0) -> None:
        executable = chromium_path()
        if executable is None:
            raise BrowserError(f"chromium is not installed: {INSTALL_HINT}")
        self._timeout = timeout
        read_end, self._commands = os.pipe()
        self._events, write_end = os.pipe()
        # bash puts the two pipe ends on fds 3 and 4, where Chromium expects them, then becomes Chromium;
        # they are first moved above 9 (which dash cannot redirect) so that neither sits on 3 or 4 already.
        to_browser, from_browser = (fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (read_end, write_end))
        os.close(read_end)
        os.close(write_end)
        script = f'exec "$0" "$@" 3<&{to_browser} 4>&{from_browser} {to_browser}<&- {from_browser}>&-'
        self._process = subprocess.Popen(
            ["bash", "-c", script, executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            pass_fds=(to_browser, from_browser),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its renderer and utility processes share its group: one kill ends all
        )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._send("Browser.close", {}, session=None, wait=False)
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=10)
        for fd in (self._commands, self._events):
            with contextlib.suppress(OSError):
                os.close(fd)

    def open(self, url: str) -> Page:
        """A new tab that has loaded `url` (its load event fired), recording its requests and console."""
        target = self._send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self._send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Network", "Page", "Runtime", "Log"):
            self._send(f"{domain}.enable", {}, session=session)
        self._send("Page.navigate", {"url": url}, session=session)
        self._wait_event("Page.loadEventFired", session)
        return Page(self, session)

    def call(self, method: str, params: dict[str, Any], session: str) -> dict[str, Any]:
        return self._send(method, params, session=session)

    def _send(self, method: str, params: dict[str, Any], session: str | None = None, wait: bool = True) -> Any:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        if not wait:
            return None
        while True:
            answer = self._read()
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result", {})

    def _wait_event(self, method: str, session: str) -> dict[str, Any]:
        seen = len(self.events)
        while True:
            for event in self.events[seen:]:
                if event.get("method") == method and event.get("sessionId") == session:
                    return event
            seen = len(self.events)
            self._read()

    def _read(self) -> dict[str, Any]:
        """The next message; events are kept in `self.events` as well."""
        deadline = time.monotonic() + self._timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._events], [], [], max(0.0, left))
            if not ready:
                raise BrowserError(f"chromium did not answer within {self._timeout:.0f} s")
            chunk = os.read(self._events, 1 << 16)
            if not chunk:
                raise BrowserError(f"chromium closed its pipe (exit code {self._process.poll()})")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message = json.loads(raw)
        if "method" in message:
            self.events.append(message)
        return message


class Page:
    def __init__(self, browser: Chromium, session: str) -> None:
        self._browser = browser
        self._session = session

    def evaluate(self, expression: str) -> Any:
        answer = self._browser.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=self._session
        )
        if "exceptionDetails" in answer:
            raise BrowserError(f"the page's script failed: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def screenshot(self, clip: dict[str, float]) -> bytes:
        """A PNG of the region (CSS pixels of the document), below the fold too."""
        answer = self._browser.call(
            "Page.captureScreenshot",
            {"format": "png", "clip": {**clip, "scale": 1}, "captureBeyondViewport": True},
            session=self._session,
        )
        return base64.b64decode(answer["data"])

    def _events(self, method: str) -> list[dict[str, Any]]:
        mine = [e for e in self._browser.events if e.get("sessionId") == self._session]
        return [e["params"] for e in mine if e["method"] == method]

    @property
    def requested(self) -> list[str]:
        """Every URL the page asked for, its own included, in order."""
        return [event["request"]["url"] for event in self._events("Network.requestWillBeSent")]

    @property
    def failed(self) -> list[str]:
        """Loads that failed, with Chromium's reason (a blocked one says "csp")."""
        return [
            f"{event.get('errorText')} {event.get('blockedReason') or ''}".strip()
            for event in self._events("Network.loadingFailed")
        ]

    @property
    def console(self) -> list[str]:
        """Log entries (a refused load is reported here) and console messages."""
        entries = [f"{e['entry']['level']}: {e['entry']['text']}" for e in self._events("Log.entryAdded")]
        calls = self._events("Runtime.consoleAPICalled")
        return entries + [f"{c['type']}: {[a.get('value') for a in c.get('args', [])]}" for c in calls]
