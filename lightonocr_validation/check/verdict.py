"""From results to one verdict line and an exit code, in the words of the original plan.

- `validated` (exit 0): every selected check passed, and every essential one ran.
- `skip-no-gpu` (exit 0): everything that can be proven without trained weights passed; the checks that
  judge OCR text were skipped because the served model has random weights (the tiny model without a GPU, or
  the full-size one with `--load-format dummy`, on a GPU or not). The word stays for scripts that match it.
- `issue: <cause>` (exit 1): a check failed or errored, or an essential question stayed open.
- `issue: <cause>` (exit 2): the server could not be reached, or nothing ran, or it was judged gone mid-run
  (lightonocr_validation/vllm/liveness.py): after it answered, a request got no HTTP answer (refused, reset,
  closed) and GET /health none either within 3 s, or a request got no answer within --timeout and a one-token
  request none within 3 s either (a wedged engine: its /health may still answer). The check in flight says
  so, and the checks left are not run (skipped, `server_gone`): a dead or hung server costs one --timeout,
  not one per check. A server merely slow on one page answers the one-token request and is not judged.
- A stopped run (its deadline passed, or Ctrl-C) is judged on the checks that finished, and is never
  `validated`: past its deadline it is `issue` (exit 1: the server could not be proven in the time
  given; a failure or an unreachable server found before keeps its own line and code); interrupted,
  `issue: interrupted ...` with the verdict so far, and exit 130.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lightonocr_validation.check.base import Result, SkipReason, Status
from lightonocr_validation.core.errors import EXIT_FAILED as EXIT_CHECK_FAILED
from lightonocr_validation.core.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_UNREACHABLE

__all__ = ["EXIT_CHECK_FAILED", "EXIT_OK", "EXIT_UNREACHABLE", "Verdict", "combine", "fleet_verdict", "verdict_for"]


@dataclass(frozen=True)
class Verdict:
    word: str  # validated | skip-no-gpu | issue
    line: str
    exit_code: int


def verdict_for(
    results: Sequence[Result], essential_ids: frozenset[str] = frozenset(), registered: int | None = None
) -> Verdict:
    """The verdict of one host's results; `registered` (the suite's size) marks a partial selection as such."""
    if not results:
        return Verdict("issue", "issue: no check ran", EXIT_UNREACHABLE)
    stopped = [r for r in results if r.stopped]
    if stopped:
        return _stopped_verdict(results, stopped, essential_ids)
    unreachable = next((r for r in results if r.unreachable), None)
    if unreachable is not None:
        return Verdict("issue", f"issue: server unreachable: {unreachable.detail}", EXIT_UNREACHABLE)
    broken = [r for r in results if r.status in (Status.FAIL, Status.ERROR)]
    if broken:
        first = broken[0]
        more = f" (and {len(broken) - 1} more)" if len(broken) > 1 else ""
        return Verdict("issue", f"issue: {first.check_id} {first.title}: {first.detail}{more}", EXIT_CHECK_FAILED)
    random_weight_skips = [r for r in results if r.skip_reason is SkipReason.RANDOM_WEIGHTS]
    open_questions = [
        r for r in results if r.status is Status.SKIP and r.check_id in essential_ids and r not in random_weight_skips
    ]
    if open_questions:
        first = open_questions[0]
        return Verdict(
            "issue",
            f"issue: not proven: {first.check_id} {first.title} was skipped ({first.detail})",
            EXIT_CHECK_FAILED,
        )
    passed = sum(r.status is Status.PASS for r in results)
    # A run of a few selected checks must not read like a validation of the whole server.
    partial = (
        f"; only {len(results)} of {registered} checks were selected"
        if registered and len(results) < registered
        else ""
    )
    if random_weight_skips:
        return Verdict(
            "skip-no-gpu",
            f"skip-no-gpu: the serving path and LightOnOCR's architecture are proven ({_checks(passed)} passed); "
            f"OCR quality is not ({_checks(len(random_weight_skips))} need the trained weights){partial}",
            EXIT_OK,
        )
    return Verdict("validated", f"validated: {_checks(passed)} passed{partial}", EXIT_OK)


def interrupted_before_any_check() -> Verdict:
    """Ctrl-C before a host was even named (its --host being resolved): nothing to judge, exit 130."""
    return Verdict("issue", "issue: interrupted: no check ran", EXIT_INTERRUPTED)


def _stopped_verdict(results: Sequence[Result], stopped: Sequence[Result], essential_ids: frozenset[str]) -> Verdict:
    finished = [r for r in results if not r.stopped]
    so_far = verdict_for(finished, essential_ids) if finished else None
    open_count = f"{len(stopped)} of {len(results)} checks did not finish"
    if stopped[0].stopped == "interrupted":
        line = f"issue: interrupted: {open_count}; so far: {so_far.line if so_far else 'no check finished'}"
        return Verdict("issue", line, EXIT_INTERRUPTED)
    if so_far is not None and so_far.word == "issue":  # a finding made before the deadline comes first
        return Verdict(so_far.word, f"{so_far.line} (then the run's deadline passed: {open_count})", so_far.exit_code)
    return Verdict(
        "issue",
        f"issue: the run's deadline passed: {open_count} (raise --deadline, or find why the server is slow)",
        EXIT_CHECK_FAILED,
    )


def _checks(count: int) -> str:
    return f"{count} check" if count == 1 else f"{count} checks"


def combine(verdicts: Sequence[Verdict]) -> Verdict:
    """A fleet's verdict: the worst host's (unreachable over failed over skip-no-gpu over validated)."""
    if not verdicts:
        return Verdict("issue", "issue: no check ran", EXIT_UNREACHABLE)
    rank = {"validated": 0, "skip-no-gpu": 1, "issue": 2}
    return max(
        verdicts,
        key=lambda v: (v.exit_code == EXIT_INTERRUPTED, v.exit_code == EXIT_UNREACHABLE, rank[v.word], v.exit_code),
    )


def fleet_verdict(verdicts: Sequence[Verdict], names: Sequence[str]) -> Verdict:
    """The verdict of N replicas of one server (`--replicas N`): validated only when every replica is, and then
    the line says so for the fleet; otherwise the worst replica's verdict, naming it and how many fell short.
    The word stays first, so a script that matches `validated` or `issue:` reads a fleet as a single server."""
    worst = combine(verdicts)
    count = len(verdicts)
    short = [name for name, verdict in zip(names, verdicts, strict=True) if verdict.word == "issue"]
    cause = worst.line.partition(": ")[2] or worst.line
    if not short:
        return Verdict(worst.word, f"{worst.word}: fleet of {count} replicas, each: {cause}", worst.exit_code)
    head = f"issue: fleet of {count} replicas: {len(short)} of {count} not validated ({', '.join(short)})"
    if len(short) == 1:
        return Verdict(worst.word, f"{head}: {cause}", worst.exit_code)
    return Verdict(worst.word, f"{head}; the worst, {names[list(verdicts).index(worst)]}: {cause}", worst.exit_code)
