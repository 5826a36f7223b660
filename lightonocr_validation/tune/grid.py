"""The configurations `invoke tune` tries: the built-in grids, and grids read from a YAML or JSON file.

A configuration is a name, the extra `vllm serve` flags it adds to the card's command, and why it is worth a
server start (each start costs 110-170 s on an H200, so a grid holds only candidates with a reason).
The card's own command ("card", no extra flags) always comes first: it is the baseline every gain is against.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightonocr_validation.core.redaction import names_a_secret
from lightonocr_validation.serve.advice import PLUGIN_LOG, PLUGIN_SWITCH, PLUGIN_VARLEN

BASELINE = "card"
BF16 = "bf16"  # the model's own numerics; any other value names what a lever changes (FP8 KV cache, ...)


class GridError(ValueError):
    """A grid that cannot be read: the message names the cause and the fix."""


@dataclass(frozen=True)
class Candidate:
    name: str
    args: tuple[str, ...] = ()
    reason: str = ""
    # "bf16", or what the lever changes: such a configuration is measured and shown, never picked as the
    # best until an accuracy run with the trained weights clears it.
    numerics: str = BF16
    # The server's environment on top of server.env: a lever that is code, not a flag (the project's vLLM
    # plugin, vllm_plugin/, reads its switch from there).
    env: tuple[tuple[str, str], ...] = ()
    # A line the server's log must hold once it is ready: the proof that such a lever took. Without it the
    # configuration is recorded as failed, never measured as if it had (a plugin that did not load, say).
    log_proof: str = ""


CARD = Candidate(BASELINE, (), "the model card's command: the baseline every gain is measured against")

# vLLM 0.26 on one GPU, a vision encoder in front of a small decoder (LightOnOCR-2-1B: about 2,400 image tokens
# per page). Measured so far (docs gpu-vllm.md): the page's prefill is the wall; a 32768-token budget ran out of
# memory; compile_mm_encoder was 2.39-3.43 pages/s against the card's 2.66-2.76, so worth a controlled rerun.
ENCODER_GRID: tuple[Candidate, ...] = (
    CARD,
    Candidate(
        "compile-mm-encoder",
        ("--compilation-config.compile_mm_encoder=true",),
        "torch.compile the vision encoder too (off by default): the encoder's prefill is the measured wall",
    ),
    Candidate(
        "batched-4096",
        ("--max-num-batched-tokens", "4096"),
        "a smaller step budget (the default is 8192 on a large GPU): about one page's prefill per step, so the "
        "decoding pages in flight wait less behind prefills; larger budgets were measured slower",
    ),
    Candidate(
        "encoder-batched-4096",
        ("--compilation-config.compile_mm_encoder=true", "--max-num-batched-tokens", "4096"),
        "both of the above: a compiled encoder and smaller steps act on different parts of a step, so their "
        "gains may add up (async scheduling is not a candidate: vLLM turns it on by default since 0.12)",
    ),
)

# The `tuned` profile (settings.py) and levers on top of it, in the order of their expected gain (issue 22),
# each measured in steady state (tune.requests: four waves at tune.concurrency). vLLM 0.26.0's encoder CUDA
# graphs (compilation_config.cudagraph_mm_encoder) are not a candidate: Pixtral, LightOnOCR's encoder, does
# not implement SupportsEncoderCudaGraph there, so the flag changes nothing for this model. Nor are concurrent
# partial prefills (--max-num-partial-prefills 2): 0.26.0 refuses to start with them ("Concurrent Partial
# Prefill is not supported", measured on the lent H100, benchmarks/results/h100-2026-12-07).
#
# The project's vLLM plugin (vllm_plugin/, installed beside vLLM by the nox sessions) gives vLLM 0.26.0's
# Pixtral encoder page-by-page attention in FlashAttention instead of SDPA over a dense mask of every patch of a
# step: 17 ms a page against 36 ms at one page a step and 200-300 ms at two or three on an H100 (docs/gpu.md,
# section 6). The same bf16 attention without the masked blocks. With it a step may encode several pages at no
# extra cost, so the card's 8192-token budget is tried again beside tuned's 4096.
VARLEN_ENV = ((PLUGIN_SWITCH, PLUGIN_VARLEN),)  # the switch `invoke serve`'s note names too
# What the plugin logs in each vLLM process where it replaced the dense mask (vllm_plugin's pixtral_varlen.apply).
VARLEN_PROOF = f"{PLUGIN_LOG} Pixtral's encoder attends page by page"
TUNED = ("--compilation-config.compile_mm_encoder=true", "--max-num-batched-tokens", "4096")
STEADY_GRID: tuple[Candidate, ...] = (
    CARD,
    Candidate("tuned", TUNED, "the tuned profile: a compiled vision encoder and a 4096-token step budget"),
    Candidate(
        "tuned-stream-8",
        (*TUNED, "--stream-interval", "8"),
        "one streamed event per 8 tokens instead of each: 128 streams at about 10,000 tokens/s are as many "
        "events a second for one front-end process to detokenise and send",
    ),
    Candidate(
        "tuned-fp8-kv",
        (*TUNED, "--kv-cache-dtype", "fp8"),
        "half the KV cache's bytes read per decode step (decode is bound by them); changes the numerics",
        numerics="fp8 KV cache: needs an accuracy run with the trained weights",
    ),
    Candidate(
        "tuned-varlen",
        TUNED,
        "the tuned profile with the plugin's page-by-page encoder attention (FlashAttention varlen): the dense "
        "mask's attention was 69 % of a burst's GPU time",
        env=VARLEN_ENV,
        log_proof=VARLEN_PROOF,
    ),
    Candidate(
        "varlen-batched-8192",
        ("--compilation-config.compile_mm_encoder=true", "--max-num-batched-tokens", "8192"),
        "page-by-page attention makes a step of three pages cost three pages, not nine: the larger budget "
        "prefills more pages per step and leaves fewer steps mixing prefill with decode",
        env=VARLEN_ENV,
        log_proof=VARLEN_PROOF,
    ),
    Candidate(
        "varlen-batched-8192-fp8-kv",
        ("--compilation-config.compile_mm_encoder=true", "--max-num-batched-tokens", "8192", "--kv-cache-dtype", "fp8"),
        "with the encoder lifted, decode is the limit, and a decode step is bound by the KV cache's bytes: fp8 "
        "halves them",
        env=VARLEN_ENV,
        log_proof=VARLEN_PROOF,
        numerics="fp8 KV cache: needs an accuracy run with the trained weights",
    ),
)

GRIDS: dict[str, tuple[Candidate, ...]] = {"encoder": ENCODER_GRID, "steady": STEADY_GRID}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def load_grid(spec: str) -> list[Candidate]:
    """The built-in grid named `spec`, or the grid in the file `spec`; the card's configuration first."""
    if spec in GRIDS:
        return list(GRIDS[spec])
    path = Path(spec)
    if not path.is_file():
        raise GridError(f"--grid {spec!r} is neither a built-in grid ({', '.join(GRIDS)}) nor a file")
    return [CARD, *_without_card(parse_grid(_read(path), source=str(path)))]


def _read(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except ValueError as error:
            raise GridError(f"--grid {path}: not valid JSON ({error})") from None
    # invoke's own copy of PyYAML, the one that reads invoke.yaml: invoke is a runtime dependency, PyYAML is
    # not (a fresh environment failed every YAML grid, and its test, for want of it).
    from invoke.util import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise GridError(f"--grid {path}: not valid YAML ({str(error).splitlines()[0]})") from None


def parse_grid(data: Any, *, source: str = "the grid") -> list[Candidate]:
    """A list of {name, args, reason[, numerics, env, log_proof]}, or {"configurations": [...]}; `args` a list of
    words or one string, `env` a mapping of the server's environment variables (no secrets: they go into the
    records), `log_proof` a line the server's log must hold for the configuration to be measured."""
    entries = data.get("configurations") if isinstance(data, dict) else data
    if not isinstance(entries, list) or not entries:
        raise GridError(f"--grid {source}: expected a list of configurations, each with a name and args")
    candidates: list[Candidate] = []
    for index, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or "name" not in entry:
            raise GridError(f"--grid {source}: configuration {index} needs a name (and args)")
        name = str(entry["name"])
        if not _NAME.match(name):
            raise GridError(f"--grid {source}: name {name!r} must be letters, digits, '.', '_' or '-'")
        args = entry.get("args", [])
        words = shlex.split(args) if isinstance(args, str) else args
        if not isinstance(words, list) or not all(isinstance(w, str | int | float | bool) for w in words):
            raise GridError(f"--grid {source}: {name}'s args must be a list of words or one string")
        numerics = str(entry.get("numerics", BF16))
        env = _env(entry.get("env", {}), name, source)
        proof = str(entry.get("log_proof", ""))
        words = tuple(_word(w) for w in words)
        candidates.append(Candidate(name, words, str(entry.get("reason", "")), numerics, env, proof))
    names = [c.name for c in candidates]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise GridError(f"--grid {source}: the name {duplicate!r} is used twice")
    return candidates


def _env(value: Any, name: str, source: str) -> tuple[tuple[str, str], ...]:
    """A configuration's `env`: a mapping of variable names to values, written into the tune's records, so
    never a secret (those stay in the environment `invoke tune` runs in, which every server inherits)."""
    if not isinstance(value, dict) or not all(isinstance(k, str) and k for k in value):
        raise GridError(f"--grid {source}: {name}'s env must be a mapping of variable names to values")
    secret = next((k for k in value if names_a_secret(k)), None)
    if secret:
        raise GridError(
            f"--grid {source}: {name}'s env names {secret}, which looks like a secret: the grid's env is written "
            "into the tune's records; export it in the environment you run `invoke tune` from instead"
        )
    return tuple((k, _word(v)) for k, v in value.items())


def _word(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _without_card(candidates: Sequence[Candidate]) -> list[Candidate]:
    # The card's configuration is always the first one and always the card's own command.
    return [c for c in candidates if c.name != BASELINE]


def select(candidates: Sequence[Candidate], only: Sequence[str]) -> list[Candidate]:
    """The configurations `--only` names (all when none), in grid order; an unknown name is a GridError."""
    if not only:
        return list(candidates)
    known = {c.name for c in candidates}
    unknown = [name for name in only if name not in known]
    if unknown:
        raise GridError(f"--only {', '.join(unknown)}: not in the grid (it has {', '.join(sorted(known))})")
    return [c for c in candidates if c.name in only]
