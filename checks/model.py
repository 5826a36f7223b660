"""Is the expected model served, with a context long enough for the largest page and the output?"""

from __future__ import annotations

from lightonocr_validation.check.base import Check, Outcome, refused_key, register
from lightonocr_validation.check.context import CheckContext
from lightonocr_validation.vllm.client import BadAnswer


@register
class MOD001(Check):
    """The expected model is listed by /v1/models"""

    family = "model"
    failure = "Requests naming the expected model get 404: the server serves another model or another name."
    hint = (
        "Serve with --served-model-name set to the name the clients use, or check the name it serves with "
        "`invoke check --model NAME`."
    )
    requires = ("RDY001",)
    tags = frozenset({"smoke"})

    def run(self, ctx: CheckContext) -> Outcome:
        reply = ctx.models()
        if reply.status in (401, 403):
            return refused_key(ctx, reply.status, "/v1/models")
        if reply.status != 200:
            return Outcome.failed(
                f"/v1/models answered {reply.status}: {reply.error_message() or 'no body'}",
                status=reply.status,
            )
        try:
            entries = ctx.model_entries()
        except BadAnswer as error:  # not JSON, an HTML page, data that is not a list: said in one line
            return Outcome.failed(str(error), status=reply.status)
        ids = [str(entry.get("id")) for entry in entries]
        listed = ctx.listed_model()
        if listed is None:
            return Outcome.failed(
                f"{ctx.settings.model_name!r} is not served; the server lists "
                f"{', '.join(map(repr, ids)) or 'no model'}",
                listed=ids,
            )
        max_model_len = ctx.max_model_len()
        return Outcome.passed(
            f"{ctx.settings.model_name} (max_model_len {max_model_len})",
            figure=ctx.settings.model_name,
            max_model_len=max_model_len,
            listed=ids,
        )


@register
class MOD002(Check):
    """max_model_len holds the largest page plus max_tokens"""

    family = "model"
    failure = "Large pages are refused with 400 (prompt too long) or their text is cut short."
    hint = (
        "Serve with --max-model-len of at least the needed length (8192 is the usual choice for LightOnOCR-2; "
        "LightOn serves LightOnOCR-3 with 16384, or 18000 for its 2048 px pages), or lower max_tokens."
    )
    requires = ("MOD001",)

    def run(self, ctx: CheckContext) -> Outcome:
        max_model_len = ctx.max_model_len()
        if max_model_len is None:
            return Outcome.skipped("/v1/models gives no max_model_len: the context length cannot be judged")
        largest = ctx.profile.largest_page_tokens()
        needed = largest + ctx.settings.sampling.max_tokens
        data = {"max_model_len": max_model_len, "needed": needed}
        if max_model_len < needed:
            return Outcome.failed(
                f"max_model_len {max_model_len} < {needed} = {largest} tokens for the largest "
                f"page "
                f"+ max_tokens {ctx.settings.sampling.max_tokens}",
                figure=str(max_model_len),
                **data,
            )
        return Outcome.passed(
            f"{max_model_len} >= {needed} ({largest} for the largest page + "
            f"max_tokens {ctx.settings.sampling.max_tokens})",
            figure=str(max_model_len),
            **data,
        )
