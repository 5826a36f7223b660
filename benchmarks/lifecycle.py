"""Time the validation life cycle on this machine and print the figures.

    python benchmarks/lifecycle.py            # reuse the environment: the second-run figures
    python benchmarks/lifecycle.py --fresh    # recreate it first: the first-run figures

Runs `nox -s validate-cpu` (the path without a GPU) and reports: environment set-up (everything before
`invoke serve`), server start to ready (from `invoke serve`'s stage report), `invoke check` wall time, stop
time and the total. Speed is printed, never asserted: machines here are shared and noisy.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKS = {"serve": "nox > invoke serve", "check": "nox > invoke check", "stop": "nox > invoke stop"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", action="store_true", help="recreate the nox environment first")
    args = parser.parse_args()
    command = ["nox", "-s", "validate-cpu", *(["--reuse-venv", "no"] if args.fresh else [])]
    started = time.monotonic()
    seen: dict[str, float] = {}
    lines: list[str] = []
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            for name, mark in MARKS.items():
                if line.startswith(mark):
                    seen.setdefault(name, time.monotonic() - started)
    total = time.monotonic() - started
    ready = next((float(m.group(1)) for line in lines if (m := re.search(r"ready: .* after ([\d.]+) s", line))), None)
    verdict = next((line.strip() for line in lines if line.startswith(("validated", "skip-no-gpu", "issue:"))), "?")
    if proc.returncode != 0 or not {"serve", "check", "stop"} <= seen.keys():
        sys.stdout.writelines(lines[-30:])
        print(f"benchmark: nox exited {proc.returncode}", file=sys.stderr)
        return 1
    print(f"environment set-up ({'fresh' if args.fresh else 'reused'}): {seen['serve']:7.1f} s")
    print(f"server start to ready:            {ready if ready is not None else float('nan'):7.1f} s")
    print(f"invoke serve, whole:               {seen['check'] - seen['serve']:7.1f} s")
    print(f"invoke check wall time:            {seen['stop'] - seen['check']:7.1f} s")
    print(f"invoke stop and session end:       {total - seen['stop']:7.1f} s")
    print(f"total:                             {total:7.1f} s")
    print(f"verdict: {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
