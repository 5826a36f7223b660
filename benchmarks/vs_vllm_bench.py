"""`invoke bench` beside vLLM's own `vllm bench serve`, on the same real server, page, load and output length.

    python benchmarks/vs_vllm_bench.py [--concurrency 4] [--requests 32] [--max-tokens 64] [--rounds 2]

Starts the real vLLM CPU build serving the tiny LightOnOCR-architecture model with the project's own
`invoke serve --tiny --detach --device cpu` on a free loopback port, then, round after round (so that a
machine getting busier affects both alike), runs

- `invoke bench --tiny --page P --concurrency C --requests N --warmup C --max-tokens M --temperature 0`
- `vllm bench serve --backend openai-chat --dataset-name custom_image --enable-multimodal-chat
  --max-concurrency C --num-prompts N --num-warmups C --custom-output-len M --ignore-eos --temperature 0`

with the same page image (the same PNG data URL in a one-line custom_image dataset), and prints pages/s and
median end-to-end latency side by side, with their difference. `invoke stop` stops the server at the end.
Figures are printed, never asserted: the machines this runs on are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from instant_vllm import free_port, launch  # noqa: E402  (beside this script)

from lightonocr_validation.core.settings import DEFAULTS  # noqa: E402
from lightonocr_validation.load.pages import sample_pages, select  # noqa: E402

SERVED_NAME = DEFAULTS["tiny_model"]["served_name"]


def invoke(*args: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def ours(args: argparse.Namespace, port: int, env: dict[str, str], out: Path) -> dict[str, float]:
    result = invoke(
        "bench",
        "--tiny",
        "--port",
        str(port),
        "--page",
        args.page,
        "--concurrency",
        str(args.concurrency),
        "--requests",
        str(args.requests),
        "--warmup",
        str(args.concurrency),
        "--max-tokens",
        str(args.max_tokens),
        "--temperature",
        "0",
        "--json",
        str(out),
        env=env,
        timeout=1800,
    )
    if result.returncode != 0:
        raise SystemExit(f"benchmark: invoke bench exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    figures = json.loads(out.read_text())["hosts"][0]["points"][0]["figures"]
    return {
        "pages/s": figures["pages_per_s"],
        "output tokens/s": figures["output_tokens_per_s"],
        "median e2e (s)": figures["e2e_s"]["p50"],
        "p99 e2e (s)": figures["e2e_s"]["p99"],
        "median TTFT (s)": figures["ttft_s"]["p50"],
        "mean ITL (s)": figures["itl_s"]["mean"],
        "failed": figures["errors"],
    }


def theirs(args: argparse.Namespace, port: int, env: dict[str, str], dataset: Path, tokenizer: Path, out: Path):
    vllm = Path(sys.executable).parent / "vllm"
    command = [
        str(vllm),
        "bench",
        "serve",
        "--backend",
        "openai-chat",
        "--endpoint",
        "/v1/chat/completions",
        "--base-url",
        f"http://127.0.0.1:{port}",
        "--model",
        SERVED_NAME,
        "--tokenizer",
        str(tokenizer),
        "--dataset-name",
        "custom_image",
        "--dataset-path",
        str(dataset),
        "--enable-multimodal-chat",
        "--max-concurrency",
        str(args.concurrency),
        "--num-prompts",
        str(args.requests),
        "--num-warmups",
        str(args.concurrency),
        "--custom-output-len",
        str(args.max_tokens),
        "--ignore-eos",
        "--temperature",
        "0",
        "--percentile-metrics",
        "ttft,itl,e2el",
        "--metric-percentiles",
        "50,99",
        "--save-result",
        "--result-dir",
        str(out.parent),
        "--result-filename",
        out.name,
        "--disable-tqdm",
    ]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    if result.returncode != 0 or not out.is_file():
        raise SystemExit(
            f"benchmark: vllm bench serve exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    data = json.loads(out.read_text())
    return {
        "pages/s": data["request_throughput"],
        "output tokens/s": data["output_throughput"],
        "median e2e (s)": data["median_e2el_ms"] / 1000,
        "p99 e2e (s)": data["p99_e2el_ms"] / 1000,
        "median TTFT (s)": data["median_ttft_ms"] / 1000,
        "mean ITL (s)": data["mean_itl_ms"] / 1000,
        "failed": data["num_prompts"] - data["completed"] if "num_prompts" in data else 0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--page", default="prose-01")
    parser.add_argument(
        "--server",
        choices=("vllm", "paced"),
        default="vllm",
        help="vllm: the real CPU vLLM (tiny model); paced: benchmarks/instant_vllm.py answering at a known speed",
    )
    parser.add_argument("--ttft", type=float, default=0.2, help="paced server: seconds to the first token")
    parser.add_argument("--itl", type=float, default=0.01, help="paced server: seconds between tokens")
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="vs-vllm-bench-"))
    port = free_port()
    env = {
        **os.environ,
        "INVOKE_SERVER_PORT": str(port),
        "INVOKE_CHECK_PORT": str(port),
        "INVOKE_SERVER_PID_FILE": str(state / "server.pid"),
        "INVOKE_SERVER_LOG_FILE": str(state / "server.log"),
        "INVOKE_TINY_MODEL_PATH": str(state / "tiny-model"),
        "OPENAI_API_KEY": "",
    }
    env.pop("VLLM_API_KEY", None)
    (page,) = select(sample_pages(), [args.page])
    dataset = state / "page.jsonl"
    # The very data URL invoke bench sends, so both send the same bytes (vllm bench keeps data: URLs as they are).
    dataset.write_text(json.dumps({"content": [{"type": "image_url", "image_url": {"url": page.data_url}}]}) + "\n")
    paced = None
    if args.server == "vllm":
        started = invoke("serve", "--tiny", "--detach", "--device", "cpu", env=env, timeout=900)
    else:
        # vllm bench serve still wants a tokenizer: the tiny model's (built in seconds).
        started = invoke("tiny-model", "--out", str(state / "tiny-model"), env=env, timeout=300)
        pace = ["--tokens", str(args.max_tokens), "--ttft", str(args.ttft), "--itl", str(args.itl)]
        paced = launch(port, *pace, "--model", SERVED_NAME)
    if started.returncode != 0:
        print(started.stdout[-3000:], started.stderr[-3000:], sep="\n", file=sys.stderr)
        return 1
    rows: list[tuple[int, dict[str, float], dict[str, float], float]] = []
    try:
        for number in range(1, args.rounds + 1):
            load = os.getloadavg()[0]
            # Each tool goes first every other round: a machine getting busier (or quieter) then favours neither.
            if number % 2:
                mine = ours(args, port, env, state / f"ours-{number}.json")
                vllm = theirs(args, port, env, dataset, state / "tiny-model", state / f"vllm-{number}.json")
            else:
                vllm = theirs(args, port, env, dataset, state / "tiny-model", state / f"vllm-{number}.json")
                mine = ours(args, port, env, state / f"ours-{number}.json")
            rows.append((number, mine, vllm, load))
    finally:
        if paced is None:
            invoke("stop", env=env, timeout=120)
        else:
            paced.terminate()
            paced.wait(timeout=10)
    served = "vLLM CPU build, tiny model"
    if paced is not None:
        served = f"paced stand-in, ttft {args.ttft:g} s, itl {args.itl:g} s"
    print(
        f"page {page.label} ({page.width}x{page.height} px), concurrency {args.concurrency}, {args.requests} "
        f"requests, {args.max_tokens} output tokens (ignore_eos), temperature 0; {served}; {os.cpu_count()} cores"
    )
    if paced is not None:
        e2e = args.ttft + (args.max_tokens - 1) * args.itl
        print(f"truth: e2e {e2e:.3f} s, ITL {args.itl:g} s, {args.concurrency / e2e:.3f} pages/s at most")
    print(f"{'round':<6} {'figure':<17} {'invoke bench':>13} {'vllm bench':>11} {'difference':>11}")
    for number, mine, vllm, load in rows:
        print(f"{number:<6} {'load average':<17} {load:>13.1f} (at the round's start; the machine is shared)")
        for name in mine:
            difference = (mine[name] - vllm[name]) / vllm[name] if vllm[name] else float("nan")
            shown = f"{difference:+.1%}" if name != "failed" else ""
            print(f"{number:<6} {name:<17} {mine[name]:>13.4g} {vllm[name]:>11.4g} {shown:>11}")
    for name in rows[0][1]:
        if name == "failed":
            continue
        mine = statistics.median(row[1][name] for row in rows)
        vllm = statistics.median(row[2][name] for row in rows)
        print(f"{'median':<6} {name:<17} {mine:>13.4g} {vllm:>11.4g} {(mine - vllm) / vllm:>+11.1%}")
    print(f"results and the server log: {state}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
