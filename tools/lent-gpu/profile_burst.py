"""On the lent GPU machine: a torch profiler trace of one burst of pages, through vLLM's own profiler endpoints.

The server must have been started with `--profiler-config.profiler=torch --profiler-config.torch_profiler_dir=DIR`
(tools/lent-gpu/steady.sh does). This posts /start_profile, sends one burst with the project's own
`invoke bench` (N pages at once, short answers: the burst is the vision encoder and the prefill), posts
/stop_profile and waits for vLLM's kernel table (DIR/profiler_out_0.txt, sorted by self CUDA time), whose
first rows it prints: which kernels the encoder spends its time in, and its attention's.

    python3 tools/lent-gpu/profile_burst.py --pages 16 --max-tokens 16 --out DIR [--url http://127.0.0.1:8000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def post(url: str, timeout: float) -> int:
    request = urllib.request.Request(url, data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        return reply.status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--out", type=Path, required=True, help="the server's torch_profiler_dir")
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--wait", type=float, default=180.0, help="seconds to wait for the kernel table")
    args = parser.parse_args()
    print(f"start_profile: HTTP {post(args.url + '/start_profile', 60)}", flush=True)
    burst = [
        "invoke", "bench", "--full-size", "--concurrency", str(args.pages), "--requests", str(args.pages),
        "--warmup", "0", "--max-tokens", str(args.max_tokens), "--temperature", "0", "--page", "prose-01",
        "--json", str(args.out / "burst.json"),
    ]  # fmt: skip
    started = time.monotonic()
    code = subprocess.run(burst, check=False).returncode
    print(f"burst: exit {code} in {time.monotonic() - started:.1f} s", flush=True)
    started = time.monotonic()
    print(f"stop_profile: HTTP {post(args.url + '/stop_profile', args.wait)}", flush=True)
    table = args.out / "profiler_out_0.txt"
    while not table.is_file() and time.monotonic() - started < args.wait:
        time.sleep(1)
    if not table.is_file():
        print(f"error: no {table} after {args.wait:.0f} s", file=sys.stderr)
        return 1
    print(f"kernel table after {time.monotonic() - started:.1f} s: {table}")
    print("\n".join(table.read_text(encoding="utf-8").splitlines()[:45]))
    return code


if __name__ == "__main__":
    raise SystemExit(main())
