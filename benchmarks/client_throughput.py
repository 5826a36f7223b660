"""How many requests per second `invoke bench`'s client can drive when the server costs nothing.

    python benchmarks/client_throughput.py [--requests 3000] [--page scan-01] [--tokens 16]

Starts benchmarks/instant_vllm.py in its own process on a free loopback port, then drives it with the
bench's own load driver (the same `run_point`, workers, sessions, bodies and parsing `invoke bench` uses)
at several concurrencies, streaming and not, with a real 1540 px sample page as the payload. Prints
requests/s, the client's CPU time per request and the share of the machine's cores the client used.

The target is 460 requests/s on two cores: ten times the 45.7 pages/s of a fleet of eight H100s at
LightOn's 5.71 pages/s each, so the client is never what limits a measured server. Figures are printed,
never asserted: the machines this runs on are shared and noisy.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from instant_vllm import free_port, launch  # noqa: E402  (beside this script)

from lightonocr_validation.bench.options import BenchOptions, request_body  # noqa: E402
from lightonocr_validation.core.config import ModelSettings, Sampling, defaults  # noqa: E402
from lightonocr_validation.load.driver import Budget, run_point  # noqa: E402
from lightonocr_validation.load.figures import distribution  # noqa: E402
from lightonocr_validation.load.pages import sample_pages, select  # noqa: E402
from lightonocr_validation.load.records import Load  # noqa: E402
from lightonocr_validation.vllm.client import Target  # noqa: E402

TARGET_REQUESTS_PER_S = 460


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="measured requests per row")
    parser.add_argument("--page", default="scan-01", help="sample page sent (scan-01 is the largest payload)")
    parser.add_argument("--tokens", type=int, default=16, help="output tokens of every answer")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument(
        "--keep-text",
        action="store_true",
        help="parse every streamed event for its text, as when answers are graded (default: time them only)",
    )
    args = parser.parse_args()
    port = free_port()
    server = launch(port, "--tokens", str(args.tokens))
    try:
        (page,) = select(sample_pages(), [args.page])
        target = Target(base_url=f"http://127.0.0.1:{port}", name="instant")
        print(
            f"page {page.label}: {page.width}x{page.height} px, {page.payload_bytes / 1024:.0f} KiB base64; "
            f"{args.tokens} output tokens an answer; {os.cpu_count()} cores; {args.requests} requests a row"
        )
        print(f"load average before: {os.getloadavg()[0]:.1f} (other processes competing for the cores)")
        header = ("mode", "in flight", "requests/s", "client ms/req", "p99 ms", "client CPU", "req/CPU-s")
        print("{:<8} {:>9} {:>10} {:>13} {:>8} {:>10} {:>9}".format(*header))
        for stream in (False, True):
            configured = defaults()
            config = replace(
                configured,
                model=ModelSettings(
                    id="lightonocr-instant", served_name="", weights="random", profile="LightOnOCR-2-1B"
                ),
                sampling=Sampling(temperature=0.0, top_p=1.0, max_tokens=args.tokens),
            )
            options = BenchOptions(config=config, hosts=[target.base_url], stream=stream, max_tokens=args.tokens)
            bodies = {page.label: request_body(page, options)}
            for concurrency in args.concurrency:
                point = run_point(
                    target,
                    [page],
                    bodies,
                    Load(concurrency),
                    Budget(requests=args.requests),
                    stream=stream,
                    keep_text=args.keep_text,
                )
                failed = [r for r in point.records if not r.ok]
                if failed:
                    print(f"benchmark: {len(failed)} requests failed: {failed[0].exchange.error}", file=sys.stderr)
                    return 1
                rate = len(point.records) / point.duration_s
                client = distribution([r.exchange.client_s for r in point.records]) or {}
                e2e = distribution([r.exchange.e2e_s for r in point.records]) or {}
                share = point.client_cpu_s / point.duration_s / (os.cpu_count() or 1)
                # Requests per second of the client's whole CPU time (every worker, the driver): what it could
                # sustain on one free core, whatever else is running on the machine.
                capacity = len(point.records) / point.client_cpu_s
                print(
                    f"{'stream' if stream else 'plain':<8} {concurrency:>9} {rate:>10.0f} "
                    f"{client['mean'] * 1000:>13.2f} {e2e['p99'] * 1000:>8.1f} {share:>10.0%} {capacity:>9.0f}"
                )
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        print(f"target: {TARGET_REQUESTS_PER_S} requests/s (10 x 8 x 5.71 pages/s)")
    finally:
        server.terminate()
        server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
