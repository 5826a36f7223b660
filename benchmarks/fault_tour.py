"""Tour every fault and bad input of issues 12 and 18 against the real command line, and print the closing note's table.

    python benchmarks/fault_tour.py             # every fault: a Markdown table, then the count handled well
    python benchmarks/fault_tour.py --only 13 14   # some rows (their numbers in the table)
    python benchmarks/fault_tour.py --list      # the rows, without running them
    python benchmarks/fault_tour.py --verbose   # and each run's whole output on stderr

Each row runs the stock `invoke` script of this environment as a subprocess from the checkout root, as a
person types it, against something on 127.0.0.1 that goes wrong in one way: the hostile test server
(tests/faults/hostile.py), the fake vLLM (tests/fakevllm), a stand-in `vllm` executable for `invoke serve`
(tests/serve/test_serve_processes.py's), or nothing at all. No real vLLM starts. Everything written goes to one
temporary folder; every process started here is stopped by its pid before the script ends.

"Handled well" is decided from the run, never written down: the exit code is documented (0, 1, 2, 130) and
the one expected for that fault; no `Traceback` in stdout or stderr; no secret (the API key, a URL password,
a key given to vllm) in any output or report, in any written form; the first line is not empty and, for bad
input, starts with `error:`; no process of the run left behind; and the fault's own facts (a stranger
process still alive, reports marked partial, a wall time within the documented deadline, the words that
name the cause). The table gives, per row, the exit code, the wall time, the first line the user sees and
the line that names the cause (the first error line, else the verdict of a check or bench run), with ports
shown as PORT, the temporary folder as $TMP, pids as PID and secrets by name. Some rows are sent a signal
(Ctrl-C): their wall time says how long the run took after it. A case whose fault concerns one check runs
that check alone (--only), with a small --timeout where a request hangs: the whole tour takes 4-5 minutes
on two cores. Issue 18's rows add a server killed or hung under `invoke bench` and `invoke check` (the
result's own facts: how many requests met the dead server, the wall time against one --timeout and the
probe), hostile `--pages` (the one 10,000 px page's peak RSS is measured and bounded), `serve --replicas 999`,
and the first-touch rows built on branch firsttouch (they pass once it is merged). Figures are printed, never
asserted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from fault_tour_cases import CASES, Case
from fault_tour_runs import DOCUMENTED, SECRETS, Run, Tour

from lightonocr_validation.core.redaction import written_forms

# --- judging and the table ------------------------------------------------------------------------------------


def leaks(run: Run) -> list[str]:
    """Where a secret appears: the output, or a file the run wrote."""
    texts = {"output": run.output}
    for path in run.written:
        texts[path.name] = path.read_text(encoding="utf-8", errors="replace")
    found = []
    for secret, name in SECRETS.items():
        forms = written_forms(secret)
        found += [f"{name} in {where}" for where, text in texts.items() if any(form in text for form in forms)]
    return found


def judge(item: Case, run: Run) -> list[str]:
    """Why the run was not handled well; empty when it was."""
    reasons = []
    if run.code not in DOCUMENTED:
        reasons.append(f"exit {run.code} is not a documented code")
    elif run.code != item.expected:
        reasons.append(f"exit {run.code}, expected {item.expected}")
    if "Traceback" in run.output:
        reasons.append("a traceback")
    reasons += [f"secret leaked: {where}" for where in leaks(run)]
    first = run.first_line()
    if not first:
        reasons.append("no output")
    elif item.bad_input and not first.startswith("error:"):
        reasons.append("the first line is not `error: ...`")
    if run.leftover:
        reasons.append(f"processes left running: {run.leftover}")
    reasons += [otherwise for holds, otherwise in run.facts if not holds]
    return reasons


def cell(text: str, limit: int = 400) -> str:
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("|", "\\|")


def wall_cell(run: Run) -> str:
    """The run's wall time; for a signalled run, the part after the (first) signal too."""
    return f"{run.wall:.1f}" + (f" ({run.after_signal:.1f} after the signal)" if run.after_signal is not None else "")


def code_cell(text: str) -> str:
    return f"`{cell(text)}`" if "`" not in text else cell(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", type=int, nargs="+", metavar="N", help="run only these rows")
    parser.add_argument("--list", action="store_true", help="list the rows and exit")
    parser.add_argument("--verbose", action="store_true", help="print each run's whole output on stderr")
    options = parser.parse_args()
    numbered = list(enumerate(CASES, start=1))
    if options.list:
        for number, item in numbered:
            print(f"{number:2d}  [{item.group}] {item.fault}  (expected exit {item.expected})")
        return 0
    if options.only:
        numbered = [(n, item) for n, item in numbered if n in set(options.only)]
    started = time.monotonic()
    rows = []
    with tempfile.TemporaryDirectory(prefix="fault-tour-") as name:
        tour = Tour(Path(name))
        try:
            for number, item in numbered:
                folder = tour.case_folder(number)
                try:
                    run = item.play(tour, folder)
                except Exception as error:  # the tour's own fault: a row, not the end of the tour
                    run = Run(item.fault, output="", facts=[(False, f"the tour failed: {error!r}")])
                reasons = judge(item, run)
                rows.append((number, item, run, reasons))
                mark = "yes" if not reasons else "NO: " + "; ".join(reasons)
                print(f"[{number:2d}/{len(CASES)}] exit {run.code} in {run.wall:5.1f} s  {item.fault}: {mark}",
                      file=sys.stderr, flush=True)  # fmt: skip
                if options.verbose:
                    print(tour.show(run.output), file=sys.stderr, flush=True)
        finally:
            for line in tour.close():
                print(f"cleanup: {line}", file=sys.stderr)
        total = time.monotonic() - started
        print_table(tour, rows, total)
    return 0


def print_table(tour: Tour, rows: list[tuple[int, Case, Run, list[str]]], total: float) -> None:
    print("| # | group | fault | command | exit | wall s | first line the user sees | the line naming the cause "
          "| handled well |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for number, item, run, reasons in rows:
        well = "yes" if not reasons else "**no**: " + "; ".join(reasons)
        first, cause = tour.show(run.first_line()), tour.show(run.cause_line())
        print(
            f"| {number} | {item.group} | {cell(item.fault)} | {code_cell(tour.show(run.command))} | {run.code} "
            f"| {wall_cell(run)} | {code_cell(first)} | {code_cell(cause) if cause != first else '(same)'} "
            f"| {cell(tour.show(well))} |"
        )
    handled = sum(1 for *_, reasons in rows if not reasons)
    print()
    print(f"Handled well: {handled} of {len(rows)}. Whole tour: {total:.1f} s wall.")


if __name__ == "__main__":
    sys.exit(main())
