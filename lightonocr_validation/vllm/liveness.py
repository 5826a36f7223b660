"""Whether a server is gone, judged from the requests a run sends it, so that the rest of the run stops waiting
on it: `invoke check` does not run the checks left, `invoke bench` stops sending. A dead or wedged server then
costs one --timeout, not one per request.

The rule (docs/tasks.md, "A server gone mid-run"), once the server has answered something (a server that never
answered is unreachable, said by the request that found it, and the checks that need it are skipped already):

- gone: a request fails without any HTTP answer (connection refused, reset or closed before a status line)
  and a probe, GET /health bounded by PROBE_SECONDS, gets no answer either: the process is dead or the host
  unreachable. A failed connection while /health answers (a proxy dropping one request) is that request's
  failure, not the server's end.
- hung: a request gets no answer at all within --timeout (not a status line; an answer still dripping in is
  a slow answer, judged by whoever asked) and a one-token text request, bounded by PROBE_SECONDS (at most
  --timeout), gets none either: the engine answers nothing, whatever /health says (vLLM's /health answers
  while a wedged engine does not). A server merely slow on one page answers the probe (vLLM batches it
  beside the slow page) and is not judged: that page's timeout is its check's finding.

Thread-safe: a check's pages and a bench's workers report to the same watch; one probe at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import requests

from lightonocr_validation.vllm.client import Target, Unreachable, configured_session

# How long a probe may take (connect and answer, each; the one-token probe at most --timeout too).
PROBE_SECONDS = 3.0
GONE_KIND = "gone"


class HostWatch:
    """One server's liveness as a run's requests see it. `gone` is "" while it may still answer, else why not."""

    def __init__(
        self, target: Target, model: str, on_gone: Callable[[], None] = lambda: None, *, answered: bool = False
    ) -> None:
        self.target = target
        self.model = model  # the served model's id: the one-token probe must reach the engine, not a 404
        self.has_answered = answered  # True once any request got an HTTP answer: only then can it be "gone"
        self.gone = ""
        self.during = ""  # what the run was doing when the server was judged gone (a check's id), for the report
        self._lock = threading.Lock()
        self._probe_lock = threading.Lock()
        self._on_gone = on_gone

    def answered(self) -> None:
        """A request got an HTTP answer (any status)."""
        self.has_answered = True

    def failed(self, error: Unreachable) -> Unreachable:
        """A request got no HTTP answer; returns what to report for it: the judgement once the server is judged
        gone (by this failure or an earlier one), else the failure itself."""
        if self.gone:
            return self.unreachable()
        if not self.has_answered:
            return error
        if error.kind == "timeout":
            if not self._answers(self._one_token):
                self._judge(
                    f"judged hung: a request got no answer within {self.target.timeout:g} s (--timeout), nor did a "
                    f"one-token request within {self._probe_seconds():g} s: it answers nothing"
                )
        elif not self._answers(self._health):
            cause = str(error).removeprefix(f"{self.target.label}: ")
            self._judge(f"judged gone: {cause}, and /health does not answer either")
        return self.unreachable() if self.gone else error

    def unreachable(self) -> Unreachable:
        return Unreachable(GONE_KIND, f"{self.target.label}: {self.gone}")

    def raise_if_gone(self) -> None:
        if self.gone:
            raise self.unreachable()

    def _judge(self, why: str) -> None:
        with self._lock:
            if self.gone:
                return
            self.gone = why
        self._on_gone()

    def _probe_seconds(self) -> float:
        return min(PROBE_SECONDS, self.target.timeout)

    def _health(self, session: requests.Session) -> None:
        session.get(f"{self.target.base_url}/health", timeout=self._probe_seconds()).close()

    def _one_token(self, session: requests.Session) -> None:
        body = {"model": self.model, "messages": [{"role": "user", "content": "OK"}], "max_tokens": 1}
        url = f"{self.target.base_url}/v1/chat/completions"
        session.post(url, json=body, timeout=self._probe_seconds()).close()

    def _answers(self, probe: Callable[[requests.Session], None]) -> bool:
        """Whether ``probe`` gets any HTTP answer in time. One probe at a time: of a burst of failed requests
        one asks, the others read its judgement."""
        with self._probe_lock:
            if self.gone:
                return False
            session = configured_session(self.target)
            try:
                probe(session)
            except requests.RequestException:
                return False
            finally:
                session.close()
        self.answered()
        return True
