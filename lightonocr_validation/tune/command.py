"""`invoke tune`: start the server once per configuration, bench it, stop it; name the best and its gain.

Each configuration is the card's `vllm serve` command plus a few flags (grid.py). It goes through the
same machinery as `invoke serve` (serve.build_command, start, wait_until_ready, stop_process_group) and the
same measurement as `invoke bench` (bench.command.run_bench, one fixed load). A configuration that cannot
start, that vLLM rejects, or whose server dies under load is recorded as failed with the diagnosis from its
log, and the sweep goes on. Every server is stopped before the next one starts, whatever happened.

A sweep is resumable: each configuration's record is written to `OUT/configs/NAME.json` as soon as it is
measured, and a later run with the same --out skips what is recorded (a lent GPU allows 10 minutes per
command, two configurations at most). The summary (`OUT/tune.json`) always covers the whole grid.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from lightonocr_validation.bench.command import run_bench
from lightonocr_validation.bench.options import BenchOptions
from lightonocr_validation.bench.steady import headline, headline_figure
from lightonocr_validation.core.config import Config, ModelSettings, ServerSettings
from lightonocr_validation.core.errors import EXIT_INTERRUPTED, EXIT_USAGE, UserError
from lightonocr_validation.core.markdown import formatted
from lightonocr_validation.serve import process as serving
from lightonocr_validation.tune.grid import BASELINE, BF16, Candidate, GridError, load_grid, select
from lightonocr_validation.vllm.client import BadAnswer, Target, Unreachable, VllmClient, one_line
from lightonocr_validation.vllm.diagnose import KnownFailure, diagnose

EXIT_OK = 0
EXIT_FAILED = 1  # the card's own configuration failed, or no configuration could be measured

OK = "ok"
FAILED = "failed"
NOT_RUN = "not run"
MISSING = "-"  # a figure the configuration did not give, in the console table


@dataclass(frozen=True)
class TuneOptions:
    model: ModelSettings  # as `invoke serve` resolves it (--tiny, --full-size, --model)
    server: ServerSettings  # likewise (--port)
    model_args: Sequence[str]  # the model's own serve args (tiny: --enforce-eager; full size: dummy weights)
    env: Mapping[str, str]  # the server's environment on top of ours
    grid: Sequence[Candidate]  # the whole grid, the card's configuration first
    selected: Sequence[Candidate]  # what this run measures (--only), in grid order
    grid_name: str
    out: Path
    start_timeout: float
    bench: Callable[[Path], BenchOptions]  # the bench options for one configuration, given its result path
    fresh: bool = False  # measure again what --out already records


def select_grid(cfg: Config, only: Sequence[str]) -> tuple[list[Candidate], list[Candidate]]:
    """The grid (--grid) and what of it this run measures (--only, each item comma-separable), read before
    anything else: a grid that cannot be read or an --only naming nothing is one line (exit 2)."""
    names = [name.strip() for item in only for name in item.split(",") if name.strip()]
    try:
        candidates = load_grid(cfg.tune.grid)
        return candidates, select(candidates, names)
    except GridError as error:
        raise UserError(str(error), EXIT_USAGE) from None


def tune_options(
    cfg: Config,
    grid: tuple[Sequence[Candidate], Sequence[Candidate]],
    *,
    model_args: Sequence[str],
    env: Mapping[str, str],
    fresh: bool,
    warmup: int | None,
    pages: Sequence[str],
    out: Path,
) -> TuneOptions:
    """The run `invoke tune`'s flags ask for: each configuration of `grid` (all, selected) benched at the port
    it binds, under the tune.* load."""
    # The bench reaches the server each configuration starts: check.port is the port it binds.
    bench_config = dataclasses.replace(cfg, check=dataclasses.replace(cfg.check, port=cfg.server.port))

    def bench_options(result_path: Path) -> BenchOptions:
        return BenchOptions(
            config=bench_config,
            hosts=[serving.local_url(cfg.server.host, cfg.server.port)],
            concurrency=cfg.tune.concurrency,
            requests=cfg.tune.requests,
            warmup=warmup,
            max_tokens=cfg.tune.max_tokens,
            result_path=result_path,
            pages=pages,
        )

    return TuneOptions(
        model=cfg.model,
        server=cfg.server,
        model_args=model_args,
        env=env,
        grid=grid[0],
        selected=grid[1],
        grid_name=cfg.tune.grid,
        out=out,
        start_timeout=cfg.tune.start_timeout,
        bench=bench_options,
        fresh=fresh,
    )


def config_dir(out: Path) -> Path:
    return out / "configs"


def run_tune(options: TuneOptions, *, console: Console, errors: Console) -> int:
    records_dir = config_dir(options.out)
    records_dir.mkdir(parents=True, exist_ok=True)
    todo = [c for c in options.selected if options.fresh or not (records_dir / f"{c.name}.json").is_file()]
    skipped = [c.name for c in options.selected if c not in todo]
    if skipped:
        console.print(f"already measured in {records_dir} (--fresh measures again): {', '.join(skipped)}", markup=False)
    for number, candidate in enumerate(todo, 1):
        console.rule(f"[{number}/{len(todo)}] {candidate.name}", style="cyan")
        record = measure(candidate, options, console=console, errors=errors)
        (records_dir / f"{candidate.name}.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        _print_outcome(record, console, errors)
    summary = summarize(options, [_read_record(records_dir, c) for c in options.grid])
    path = options.out / "tune.json"
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    console.print(render_table(summary))
    console.print(summary["conclusion"], markup=False, soft_wrap=True)
    if summary["best"] and summary["best"]["name"] != BASELINE:
        env = summary["best"].get("env") or {}
        # The profile's own environment, not server.env: that one reaches every profile, the card's too.
        with_env = f" and server.profile_env.tuned to {json.dumps(env)}" if env else ""
        console.print(
            "to serve it: set server.profiles.tuned in invoke.yaml to "
            f"{json.dumps(summary['best']['args'])}{with_env}, then `invoke serve --profile tuned`",
            markup=False,
            soft_wrap=True,
        )
    console.print(f"result: {path}", markup=False, soft_wrap=True)
    baseline = summary["configurations"][0]
    return EXIT_FAILED if baseline["status"] == FAILED or summary["best"] is None else EXIT_OK


def measure(candidate: Candidate, options: TuneOptions, *, console: Console, errors: Console) -> dict[str, Any]:
    """Start, wait, bench, stop one configuration; its record (status ok or failed with the cause)."""
    out = options.out
    log_file = out / "logs" / f"{candidate.name}.log"
    bench_path = out / "bench" / f"{candidate.name}.json"
    command = serving.build_command(options.model, options.server, [*options.model_args, *candidate.args])
    record = _new_record(candidate, command, log_file)
    console.print(f"$ {serving.render(command)}", markup=False, soft_wrap=True)
    host, port = options.server.host, options.server.port
    try:
        env = {**options.env, **dict(candidate.env)}
        process = serving.start(command, host=host, port=port, log_file=log_file, env=env)
    except serving.ServeError as error:
        return {**record, "cause": str(error)}
    running = serving.RunningServer(
        process=process,
        command=command,
        log_file=log_file,
        base_url=serving.local_url(host, port),
        model_name=options.model.served,
        stages=serving.Stages(),
        api_key={**os.environ, **options.env}.get(serving.API_KEY_VARIABLE, ""),
    )
    try:
        with console.status("starting", spinner="dots") as status:
            serving.wait_until_ready(
                running,
                timeout=options.start_timeout,
                on_progress=lambda stage, stages: status.update(
                    f"{candidate.name}: {serving.STAGE_NAMES[stage]} · {stages.elapsed:.0f} s"
                ),
            )
        record["start_s"] = round(running.stages.reached.get("model", running.stages.elapsed), 1)
        if candidate.log_proof and not serving.log_holds(log_file, candidate.log_proof):
            return {**record, "cause": _NOT_TAKEN.format(proof=candidate.log_proof)}
        console.print(f"ready after {record['start_s']:.0f} s; measuring", markup=False)
        code = run_bench(options.bench(bench_path), console=console, errors=errors)
        if code == EXIT_INTERRUPTED:  # Ctrl-C or SIGTERM stopped the bench: stop the server, keep no half record
            raise KeyboardInterrupt
        record["bench_exit_code"] = code
        if bench_path.is_file():
            record["bench_result"] = str(bench_path)
            record["figures"] = key_figures(json.loads(bench_path.read_text(encoding="utf-8")))
        record.update(_judge(record, running))
    except serving.ServeError as error:
        known = error.diagnosis or diagnose(serving.log_tail(log_file, lines=400))
        record["cause"] = str(error)
        record["diagnosis"] = {"key": known.key, "cause": known.cause, "fix": known.fix} if known else None
    finally:
        serving.stop_process_group(running.pid, options.server.stop_timeout)
        process.wait()
    return record


def _described(candidate: Candidate) -> dict[str, Any]:
    """What a record says of its configuration, measured or not."""
    return {
        "name": candidate.name,
        "args": list(candidate.args),
        "reason": candidate.reason,
        "numerics": candidate.numerics,
        "env": dict(candidate.env),
        "log_proof": candidate.log_proof or None,
    }


def _new_record(candidate: Candidate, command: Sequence[str], log_file: Path) -> dict[str, Any]:
    """A configuration's record before its start: failed until the measurement says otherwise."""
    return {
        **_described(candidate),
        "command": command,
        "log": str(log_file),
        "status": FAILED,
        "cause": None,
        "diagnosis": None,
        "start_s": None,
        "bench_result": None,
        "bench_exit_code": None,
        "figures": None,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


_NOT_TAKEN = (
    "the lever did not take: the server's log never says {proof!r} "
    "(for the project's vLLM plugin: install vllm_plugin beside vLLM, as the nox sessions do)"
)


def _judge(record: Mapping[str, Any], running: serving.RunningServer) -> dict[str, Any]:
    """ok, or failed with the cause: the server died under load, or the bench measured nothing."""
    alive = running.process.poll() is None and _healthy(running.base_url)
    figures = record["figures"]
    if not alive:
        known = _diagnosis_in_log(running.log_file)
        errors = f" ({figures['errors']} of {figures['requests']} requests failed)" if figures else ""
        return {
            "status": FAILED,
            "cause": f"the server died under load{errors}",
            "diagnosis": {"key": known.key, "cause": known.cause, "fix": known.fix} if known else None,
        }
    if not figures or not figures["completed"]:
        return {"status": FAILED, "cause": f"the bench measured no answer (exit {record['bench_exit_code']})"}
    return {"status": OK}


def _diagnosis_in_log(log_file: Path, wait_s: float = 3.0) -> KnownFailure | None:
    """The cause in the log of a server that died; its engine may write it a moment after the errors came back."""
    deadline = time.monotonic() + wait_s
    while True:
        known = diagnose(serving.log_tail(log_file, lines=400))
        if known or time.monotonic() > deadline:
            return known
        time.sleep(0.2)


def _healthy(base_url: str) -> bool:
    client = VllmClient(Target(base_url, timeout=5.0))
    try:
        return client.get("/health").status == 200
    except (Unreachable, BadAnswer):
        return False
    finally:
        client.close()


def key_figures(result: Mapping[str, Any]) -> dict[str, Any] | None:
    """The figures a tuning compares, from a bench result (its one host's one load point)."""
    hosts = result.get("hosts") or []
    points = hosts[0]["points"] if hosts else []
    if not points:
        return None
    figures = points[0]["figures"]
    first_error = next((r["error"] for r in points[0].get("requests", []) if r.get("error")), None)
    rate, mark = headline(figures)
    server = points[0].get("server_time") or {}
    engine = server.get("engine") or {}
    limit = figures.get("limit") or {}
    steady = figures.get("steady") or {}
    return {
        "concurrency": points[0].get("concurrency"),
        "requests": figures["requests"],
        "completed": figures["completed"],
        "errors": figures["errors"],
        "first_error": one_line(first_error, 200) if first_error else None,
        # The steady state's pages/s and latencies where the point has one (steady.py), else the whole
        # point's, marked "one wave".
        "pages_per_s": rate,
        "state": mark or ("steady" if steady else None),
        "waves": steady.get("waves"),
        "whole_point_pages_per_s": figures["pages_per_s"],
        "output_tokens_per_s": headline_figure(figures, "output_tokens_per_s"),
        "e2e_p50_s": headline_figure(figures, "e2e_s.p50"),
        "e2e_p95_s": headline_figure(figures, "e2e_s.p95"),
        "ttft_p50_s": headline_figure(figures, "ttft_s.p50"),
        "itl_p50_s": headline_figure(figures, "itl_s.p50"),
        # Where a request's time went in the engine (vLLM's histograms): prefill includes the vision encoder,
        # whose own time vLLM 0.26.0 does not export over HTTP (a profiler trace splits it).
        "queue_s": server.get("queue_s"),
        "prefill_s": server.get("prefill_s"),
        "decode_s": server.get("decode_s"),
        "steps": engine.get("steps"),
        "steps_with_prefill_at_least": engine.get("steps_with_prefill_at_least"),
        "limit_pages_per_s": limit.get("combined_pages_per_s"),
        "decode_limit_pages_per_s": limit.get("decode_pages_per_s"),
        "prefill_limit_pages_per_s": limit.get("prefill_pages_per_s"),
        "share_of_limit": limit.get("share"),
        "gpu": limit.get("gpu"),
    }


def _read_record(records_dir: Path, candidate: Candidate) -> dict[str, Any]:
    path = records_dir / f"{candidate.name}.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    return {**_described(candidate), "status": NOT_RUN}


def summarize(options: TuneOptions, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The sweep's result: every configuration, the best (no failed request, the model's own bf16 numerics: a
    lever that changes them needs an accuracy run with the trained weights first), its gain over the card's."""
    baseline = records[0]
    best = best_of(records)
    base_rate = baseline["figures"]["pages_per_s"] if baseline["status"] == OK else None
    gain = best["figures"]["pages_per_s"] / base_rate - 1 if best and base_rate else None
    bench = options.bench(options.out / "bench" / "-")
    return {
        "kind": "lightonocr-validation tune",
        "grid": options.grid_name,
        "model": options.model.served,
        "settings": {
            "concurrency": bench.concurrency,
            "max_tokens": bench.max_tokens,
            "requests": bench.requests,
            "warmup": bench.warmup,
            "start_timeout_s": options.start_timeout,
        },
        "configurations": [dict(r) for r in records],
        "best": {
            "name": best["name"],
            "args": best["args"],
            "env": best.get("env") or {},  # records of earlier runs have none
            "pages_per_s": best["figures"]["pages_per_s"],
        }
        if best
        else None,
        "gain_over_card": gain,
        "conclusion": _conclusion(best, gain, baseline, records),
    }


def best_of(records: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The fastest configuration measured without a failed request that keeps the model's bf16 numerics."""
    eligible = [
        r for r in records if r["status"] == OK and r["figures"]["errors"] == 0 and r.get("numerics", BF16) == BF16
    ]
    return max(eligible, key=lambda r: r["figures"]["pages_per_s"] or 0.0, default=None)


def _conclusion(
    best: Mapping[str, Any] | None, gain: float | None, baseline: Mapping[str, Any], records: Sequence[Mapping]
) -> str:
    missing = [r["name"] for r in records if r["status"] == NOT_RUN]
    pending = f"; not measured yet: {', '.join(missing)}" if missing else ""
    if best is None:
        return f"tune: no configuration was measured without errors{pending}"
    rate = best["figures"]["pages_per_s"]
    if baseline["status"] != OK:
        return (
            f"tune: best {best['name']} at {rate:.2f} pages/s; the card's configuration {baseline['status']}{pending}"
        )
    if best["name"] == BASELINE:
        return f"tune: the card's flags are the best measured, {rate:.2f} pages/s{pending}"
    return f"tune: best {best['name']} at {rate:.2f} pages/s, {gain:+.1%} over the card's flags{pending}"


def _print_outcome(record: Mapping[str, Any], console: Console, errors: Console) -> None:
    if record["status"] == OK:
        figures = record["figures"]
        console.print(f"{record['name']}: {figures['pages_per_s']:.2f} pages/s", markup=False)
        return
    diagnosis = record.get("diagnosis")
    fix = f": {diagnosis['cause']}; fix: {diagnosis['fix']}" if diagnosis else ""
    errors.print(
        f"{record['name']} failed: {record['cause']}{fix} (log: {record['log']}); going on",
        markup=False,
        style="yellow",
        soft_wrap=True,
    )


def render_table(summary: Mapping[str, Any]) -> Table:
    table = Table(title=f"tune: grid {summary['grid']}, {summary['model']}", title_justify="left")
    columns = ("configuration", "status", "pages/s", "vs card", "e2e p50", "e2e p95", "prefill", "decode", "limit")
    for column in (*columns, "errors"):
        table.add_column(column, justify="left" if column in ("configuration", "status") else "right")
    table.add_column("start", justify="right")
    table.add_column("cause")
    card = summary["configurations"][0]
    base = card["figures"]["pages_per_s"] if card["status"] == OK else None
    for record in summary["configurations"]:
        figures = record.get("figures") or {}
        rate = figures.get("pages_per_s")
        mark = " *" if summary["best"] and summary["best"]["name"] == record["name"] else ""
        diagnosis = record.get("diagnosis")
        state = f" ({figures['state']})" if figures.get("state") not in (None, "steady") else ""
        numerics = " [numerics]" if record.get("numerics", BF16) != BF16 else ""
        table.add_row(
            record["name"] + mark + numerics,
            record["status"],
            formatted(rate, "{:.2f}", MISSING) + state,
            formatted(rate / base - 1 if rate and base else None, "{:+.1%}", MISSING),
            formatted(figures.get("e2e_p50_s"), "{:.1f} s", MISSING),
            formatted(figures.get("e2e_p95_s"), "{:.1f} s", MISSING),
            formatted(figures.get("prefill_s"), "{:.1f} s", MISSING),
            formatted(figures.get("decode_s"), "{:.1f} s", MISSING),
            formatted(figures.get("share_of_limit"), "{:.0%}", MISSING),
            formatted(figures.get("errors"), "{}", MISSING),
            formatted(record.get("start_s"), "{:.0f} s", MISSING),
            (diagnosis["key"] + ": " if diagnosis else "") + (record.get("cause") or ""),
        )
    return table
