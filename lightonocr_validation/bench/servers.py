"""What each server says before a bench: the targets the hosts resolve to, and /v1/models and /version asked of
each, so that a server that is down, refuses the key or serves another model stops the run before any page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console

from lightonocr_validation.bench.options import BenchOptions
from lightonocr_validation.core.errors import UserError, print_warning
from lightonocr_validation.core.shape import dig, typed
from lightonocr_validation.core.shape import kind as shape_of
from lightonocr_validation.vllm import targets
from lightonocr_validation.vllm.client import BadAnswer, Target, Unreachable, VllmClient, key_refusal
from lightonocr_validation.vllm.provenance import ServerFacts
from lightonocr_validation.vllm.targets import resolve_fleet


@dataclass(frozen=True)
class Server:
    """What a server said before the run: for the provenance, and to refuse a model it does not serve."""

    target: Target
    facts: ServerFacts
    down: bool = False  # a replica that could not be reached before the run (its requests count as errors)


class Unusable(Exception):
    """A server that cannot be benchmarked: unreachable, refusing the key, or not serving the model."""


class Down(Unusable):
    """A server that cannot be reached at all: in a fleet of replicas, one that is down."""


def resolve_targets(options: BenchOptions) -> list[Target]:
    try:
        hosts = options.hosts or [options.config.check.host]
        return resolve_fleet(list(dict.fromkeys(hosts)), options.replicas, options.config, options.insecure)
    except targets.TargetError as error:
        raise UserError(str(error)) from None


def ask_server(target: Target, model_name: str) -> Server:
    client = VllmClient(target)
    try:
        models = client.get("/v1/models", timeout=min(target.timeout, 30))
        if models.status in (401, 403):
            detail, hint = key_refusal(target, models.status, "/v1/models")
            raise Unusable(f"{target.label}: {detail}: {hint.rstrip('.')}")
        if models.status != 200:
            raise Unusable(f"{target.label}: /v1/models answered HTTP {models.status}: {models.error_message()}")
        data = dig(models.json(), "data")
        if not isinstance(data, list):
            shown = shape_of(data)
            raise Unusable(f"{target.label}: /v1/models answered 200 but its data is {shown}, not a list of models")
        listed = [m for m in data if isinstance(m, dict)]
        entry = next((m for m in listed if m.get("id") == model_name), None)
        if entry is None:
            served = ", ".join(str(m.get("id")) for m in listed) or "nothing"
            raise Unusable(
                f"{target.label} does not serve {model_name!r} (it serves {served}): pass --model with that id, "
                "or --tiny for the tiny model"
            )
        version = client.get("/version", timeout=min(target.timeout, 30))
        vllm_version = typed(dig(version.json(), "version"), str) if version.status == 200 else None
    except Unreachable as error:
        raise Down(f"cannot reach {error}") from None
    except BadAnswer as error:  # an HTML page, a body cut short or far too long: said in one line
        raise Unusable(f"{target.label}: {error}") from None
    except ValueError:
        raise Unusable(f"{target.label}: /v1/models did not answer JSON: is this a vLLM server?") from None
    finally:
        client.close()
    length = entry.get("max_model_len")
    return Server(target, ServerFacts(vllm_version, length if isinstance(length, int) else None))


def ask_servers(resolved: Sequence[Target], options: BenchOptions, errors: Console) -> list[Server]:
    """What each server serves. A replica that is down does not stop a fleet's bench: it is said plainly and its
    requests are counted as errors; every replica down, or any answering wrongly, stops it (exit 2)."""
    servers = []
    down: list[tuple[Target, Down]] = []
    for target in resolved:
        try:
            servers.append(ask_server(target, options.config.model.served))
        except Down as error:
            if options.replicas < 2:
                raise
            down.append((target, error))
            servers.append(Server(target, ServerFacts(), down=True))
    if down and len(down) == len(resolved):
        raise Down(f"no replica of {len(resolved)} answers: {down[0][1]}")
    for target, error in down:
        print_warning(
            errors, f"replica {target.label} is down ({error}): it stays in the fleet and its requests count as errors"
        )
    return servers
