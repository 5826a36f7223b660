"""Can the server be reached, is it healthy, and is its vLLM one that serves LightOnOCR?"""

from __future__ import annotations

from lightonocr_validation.check.base import Check, Outcome, Status, refused_key, register
from lightonocr_validation.check.context import CheckContext
from lightonocr_validation.vllm import compat
from lightonocr_validation.vllm.client import Unreachable


@register
class RDY001(Check):
    """The server answers HTTP"""

    family = "readiness"
    failure = "Nothing answers at this address: no validation is possible."
    hint = "Start the server (invoke serve), check --host/--port, the firewall, DNS and TLS settings."
    tags = frozenset({"smoke"})

    def run(self, ctx: CheckContext) -> Outcome:
        try:
            reply = ctx.client.get("/health", timeout=min(ctx.client.target.timeout, 30.0))
        except Unreachable as error:
            return Outcome(Status.FAIL, str(error), figure=error.kind, unreachable=error.kind)
        return Outcome.passed(
            f"answered HTTP {reply.status} in {reply.seconds * 1000:.0f} ms", figure=f"{reply.seconds * 1000:.0f} ms"
        )


@register
class RDY002(Check):
    """/health answers 200"""

    family = "readiness"
    failure = "vLLM answers /health with 503 once its engine has died; other codes mean it is not vLLM."
    hint = "Read the server log for the engine's error (invoke serve prints a diagnosis) and restart it."
    requires = ("RDY001",)
    tags = frozenset({"smoke"})

    def run(self, ctx: CheckContext) -> Outcome:
        reply = ctx.client.get("/health")
        if reply.status == 200:
            return Outcome.passed("200")
        if reply.status in (401, 403):  # a gateway guarding /health too (vLLM leaves it open): not the engine
            return refused_key(ctx, reply.status, "/health")
        return Outcome.failed(f"/health answered {reply.status}: {reply.error_message() or 'no body'}")


@register
class RDY003(Check):
    """The vLLM version serves LightOnOCR"""

    family = "readiness"
    failure = "This vLLM predates LightOnOCR or is a release known to break it."
    hint = "Serve with a release the compatibility table marks ok (docs/vllm-validation.md)."
    requires = ("RDY001",)
    tags = frozenset({"smoke"})

    def run(self, ctx: CheckContext) -> Outcome:
        reply = ctx.version()
        if reply.status != 200:
            return Outcome.skipped(f"/version answered {reply.status}: the version cannot be judged")
        body = reply.json()  # NotJson (an HTML page, ...) is a failed check with its reason
        version = str(body.get("version", "")) if isinstance(body, dict) else ""
        try:
            rule = compat.rule_for(version, ctx.profile.architecture)
            supported = compat.is_supported(version)
        except ValueError:
            return Outcome.skipped(f"/version gave {version!r}, not a release number")
        if not supported:
            minimum = compat.format_version(compat.MINIMUM_VLLM)
            return Outcome.failed(
                f"vLLM {version} is older than {minimum}, the first with LightOnOCR", figure=version, version=version
            )
        if rule and rule.status == "avoid":
            return Outcome.failed(f"vLLM {version}: {rule.summary}; fix: {rule.fix}", figure=version, version=version)
        if rule and rule.status == "pin":
            return Outcome.passed(
                f"vLLM {version}; only with {', '.join(rule.pins)}: {rule.summary}", figure=version, version=version
            )
        return Outcome.passed(f"vLLM {version}", figure=version, version=version)
