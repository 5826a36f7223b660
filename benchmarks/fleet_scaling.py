"""`invoke bench --replicas N` and `--gpus N` against stand-in GPUs of known capacity: the fleet's figures per
replica and in total, and its scaling efficiency, where the right answer is known.

    python benchmarks/fleet_scaling.py [--replicas 2] [--capacity 4] [--service 0.2] [--requests 64]

Each stand-in is `instant_vllm.py --capacity K --service S`: at most K completions at once, S seconds each,
so one "GPU" serves K / S pages/s whatever the client does. Three fleets, each measured with the project's
own command, as a person runs it:

- N stand-ins on consecutive ports (N GPUs): `invoke bench --replicas N`, efficiency should be near 1;
- one stand-in listening on N consecutive ports (`--ports N`: N replicas that are really one GPU):
  `invoke bench --replicas N`, efficiency should be near 1/N;
- one stand-in with N x K slots on one port (a data-parallel server over N GPUs), set against a one-GPU result
  measured first: `invoke bench --gpus N --single-gpu ONE.json`, efficiency should be near 1.

Every bench keeps K requests in flight per GPU (`--concurrency K`, the load flags being per GPU), enough to fill
each stand-in. Figures are printed, never asserted: the machines this runs on are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from instant_vllm import MODEL, launch  # noqa: E402  (beside this script)

from tests.processes import free_ports  # noqa: E402


def bench(args: argparse.Namespace, port: int, result: Path, *extra: str) -> dict:
    command = [
        "bench",
        "--port",
        str(port),
        "--model",
        MODEL,
        "--model-profile",  # the stand-in's name says no model: its pages are LightOnOCR-2's
        "LightOnOCR-2-1B",
        "--max-tokens",
        "16",
        "--page",
        "prose-01",
        "--concurrency",
        str(args.capacity),
        "--requests",
        str(args.requests),
        "--warmup",
        str(args.capacity),
        "--json",
        str(result),
        *extra,
    ]
    print(f"$ invoke {shlex.join(command)}", flush=True)
    done = subprocess.run([sys.executable, "-m", "invoke", *command], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"benchmark: invoke bench exited {done.returncode}: {done.stderr.strip()[-400:]}")
    return json.loads(result.read_text())


def show(title: str, result: dict) -> None:
    print(f"\n{title}")
    for host in result["hosts"]:
        (load,) = host["summary"]["loads"]
        figures = load["figures"]
        e2e = figures["e2e_s"]
        print(
            f"  {host['name']:<26} {figures['pages_per_s']:7.2f} pages/s  e2e p50 {e2e['p50']:.3f} s  "
            f"p95 {e2e['p95']:.3f} s  errors {figures['errors']} of {figures['requests']}"
        )
    if result.get("fleet"):
        (load,) = result["fleet"]["summary"]["loads"]
        print(f"  {'total':<26} {load['figures']['pages_per_s']:7.2f} pages/s")
    scaling = result["scaling"]
    (load,) = scaling["loads"]
    print(
        f"  scaling efficiency {load['efficiency']:.3f} = {load['total_pages_per_s']:.2f} / "
        f"({scaling['gpus']} x {load['single_gpu_pages_per_s']:.2f}); one GPU: {scaling['single_gpu']['source']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--capacity", type=int, default=4, help="completions one stand-in GPU serves at once")
    parser.add_argument("--service", type=float, default=0.2, help="seconds each completion holds its slot")
    parser.add_argument("--requests", type=int, default=64, help="measured requests per replica")
    args = parser.parse_args()
    n = args.replicas
    slots = ("--capacity", str(args.capacity), "--service", str(args.service))
    rate = args.capacity / args.service
    print(f"one stand-in GPU: {args.capacity} at once, {args.service:g} s each = {rate:g} pages/s")
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        base = free_ports(n)
        servers = [launch(base + i, *slots) for i in range(n)]
        try:
            result = bench(args, base, out / "gpus.json", "--replicas", str(n))
            show(f"{n} stand-in GPUs on ports {base}-{base + n - 1}", result)
        finally:
            for server in servers:
                server.terminate()
                server.wait()
        base = free_ports(n)
        server = launch(base, *slots, ports=n)
        try:
            result = bench(args, base, out / "shared.json", "--replicas", str(n))
            show(f"one stand-in GPU behind {n} ports {base}-{base + n - 1}", result)
        finally:
            server.terminate()
            server.wait()
        port = free_ports(1)
        server = launch(port, *slots)
        try:
            print()
            bench(args, port, out / "one.json")
        finally:
            server.terminate()
            server.wait()
        port = free_ports(1)
        server = launch(port, "--capacity", str(n * args.capacity), "--service", str(args.service))
        try:
            result = bench(args, port, out / "dp.json", "--gpus", str(n), "--single-gpu", str(out / "one.json"))
            show(f"one data-parallel stand-in with {n} GPUs' slots on port {port}", result)
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
