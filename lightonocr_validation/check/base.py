"""What a check is, what it returns, and what it may use.

A check is a class: its `id` is stable (reports, `--only` and `--skip` use it), its docstring's first line
is its title, `failure` says what a failure means for a deployment and `hint` how to fix it. `run()`
returns an `Outcome`; it never prints and never catches what it did not expect: the runner turns an
exception into an `error` result, times every check, and skips a check whose `requires` did not pass.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from lightonocr_validation.vllm.client import key_refusal

if TYPE_CHECKING:
    from lightonocr_validation.check.context import CheckContext


class Status(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"
    ERROR = "error"


class SkipReason(enum.StrEnum):
    """Why the runner skipped a check; the verdict tells an open question from a skip it expects."""

    PREREQUISITE = "prerequisite"  # a check it requires did not pass
    RANDOM_WEIGHTS = "random_weights"  # it judges text, and the served model's weights are random
    NOT_APPLICABLE = "not_applicable"  # the served model has no such mode (grounding for LightOnOCR-2)
    SERVER_GONE = "server_gone"  # an earlier check judged the server gone (lightonocr_validation/vllm/liveness.py)


@dataclass(frozen=True)
class Outcome:
    """What `Check.run` returns: a status, one line of detail, and an optional headline figure."""

    status: Status
    detail: str
    figure: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    # The kind of connection failure ("refused", "dns", "tls", "timeout", ...) when the server could not be
    # reached at all; "" when it answered. The verdict turns it into exit 2.
    unreachable: str = ""
    # A hint for this failure in place of the check's own (a refused API key names the variable read).
    hint: str = ""

    @classmethod
    def passed(cls, detail: str, figure: str = "", **data: Any) -> Outcome:
        return cls(Status.PASS, detail, figure, data)

    @classmethod
    def failed(cls, detail: str, figure: str = "", **data: Any) -> Outcome:
        return cls(Status.FAIL, detail, figure, data)

    @classmethod
    def skipped(cls, reason: str, **data: Any) -> Outcome:
        return cls(Status.SKIP, reason, "", data)


@dataclass(frozen=True)
class Result:
    """One check's outcome as the runner recorded it, for the reporters."""

    check_id: str
    title: str
    family: str
    status: Status
    detail: str
    figure: str
    seconds: float
    hint: str
    data: dict[str, Any] = field(default_factory=dict)
    host: str = ""
    unreachable: str = ""  # as Outcome.unreachable
    skip_reason: SkipReason | None = None  # set by the runner when it skipped the check itself
    # "deadline" or "interrupted" when the run was stopped before this check finished (its result is then
    # not a finding about the server); "" when it ran to its end.
    stopped: str = ""

    @classmethod
    def of(cls, check: type[Check], outcome: Outcome, **recorded: Any) -> Result:
        """`check`'s outcome as the runner records it: every Outcome field as it is (a field added there comes
        along), and what the runner adds (seconds, hint, host, skip_reason, stopped), which wins over a field
        of the same name."""
        shared = {item.name: getattr(outcome, item.name) for item in dataclasses.fields(Outcome)}
        return cls(check_id=check.id, title=check.title(), family=check.family, **{**shared, **recorded})


class Check:
    """Base class of every check; each is registered where it is written, with `@register` (check/registry.py
    puts the families in their order)."""

    id: ClassVar[str]  # set from the class name by __init_subclass__
    family: ClassVar[str]
    failure: ClassVar[str]
    hint: ClassVar[str]
    tags: ClassVar[frozenset[str]] = frozenset()
    # Ids of checks that must pass first; when one did not, this one is skipped and says which.
    requires: ClassVar[tuple[str, ...]] = ()
    # A check whose question only a model with trained weights can answer (OCR accuracy, say). Against the
    # tiny random-weight model it is skipped with that reason instead of failing.
    needs_trained_weights: ClassVar[bool] = False
    # Verdict `validated` needs every essential check to pass: a skip there leaves the question open.
    essential: ClassVar[bool] = True
    # With `--pages DIR` the user's set decides which pages there are: a check that needs a kind of page the
    # set may lack (a blank one) sets this False, and its skip then leaves no question open.
    essential_on_user_pages: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        # The class name is the id, as in repo-review: one name to grep for, in code and in reports.
        cls.id = cls.__name__

    @classmethod
    def title(cls) -> str:
        return (inspect.getdoc(cls) or cls.__name__).splitlines()[0].rstrip(".")

    @classmethod
    def not_applicable(cls, ctx: CheckContext) -> str:
        """Why this check does not apply to the served model ("" when it does): the runner skips it with this
        reason before anything else (a LightOnOCR-2 model has no grounding mode, random weights or not)."""
        return ""

    def run(self, ctx: CheckContext) -> Outcome:
        raise NotImplementedError


def refused_key(ctx: CheckContext, status: int, path: str) -> Outcome:
    """A 401 or 403: failed, naming the variable the key was read from (and whether it held one) in the detail
    and the hint, in place of the check's own hint (a model name, the server log), which would mislead."""
    detail, hint = key_refusal(ctx.client.target, status, path)
    return Outcome(Status.FAIL, detail, data={"status": status}, hint=hint)


REGISTERED: list[type[Check]] = []


def register(check: type[Check]) -> type[Check]:
    """Class decorator: `check` runs and is reported (in its family's module order, then as written)."""
    REGISTERED.append(check)
    return check
