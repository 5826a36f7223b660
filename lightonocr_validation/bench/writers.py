"""What a bench writes besides its result file: the fleet's table, the HTML report, the charts, the baseline, and
the comparison with an earlier baseline; and the files it reads for them (--compare, --single-gpu)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rich.console import Console

from lightonocr_validation.bench import scaling
from lightonocr_validation.bench.options import BenchOptions
from lightonocr_validation.bench.scaling import SingleGpu
from lightonocr_validation.core.errors import EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, UserError, os_cause, print_error


def render_fleet(console: Console, result: Mapping[str, Any]) -> None:
    """The replicas side by side (pages/s, latency, errors) and the scaling in words, after the tables."""
    table = scaling.replica_table(result)
    if table is not None:
        console.print(table)
    if result.get("scaling"):
        for line in scaling.lines(result["scaling"]):
            console.print(line, markup=False, highlight=False)


def read_single_gpu(path: Path | None) -> SingleGpu | None:
    if path is None:
        return None
    from lightonocr_validation.bench.readout import ResultError

    try:
        return scaling.read_single_gpu(path)
    except ResultError as error:
        raise UserError(f"--single-gpu {error}") from None


def read_baseline(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    from lightonocr_validation.bench.compare import load_baseline
    from lightonocr_validation.bench.readout import ResultError

    try:
        return load_baseline(path)
    except ResultError as error:
        raise UserError(f"--compare {error}") from None


def write_readers(options: BenchOptions, result: Mapping[str, Any], *, console: Console, errors: Console) -> int:
    """The HTML report, the charts and the baseline the options ask for: 0, or 2 when one could not be written
    (as for the check reports: a CI job must not read a missing artifact as a clean pass)."""
    code = EXIT_OK
    wanted: list[tuple[str, Path | None, Callable[[], object]]] = [
        ("HTML report", options.html, lambda: _html(result, options.html)),
        ("charts", options.charts, lambda: _charts(result, options.charts)),
        ("baseline", options.save_baseline, lambda: _baseline(result, options.save_baseline)),
    ]
    for kind, path, write in wanted:
        if path is None:
            continue
        try:
            written = write()
        except OSError as error:
            print_error(errors, f"the {kind} could not be written to {path}: {os_cause(error)}")
            code = EXIT_UNREACHABLE
        except RuntimeError as error:  # ChartsUnavailable: matplotlib is not installed
            print_error(errors, f"the {kind} needs matplotlib: {error}")
            code = EXIT_UNREACHABLE
        else:
            console.print(f"{kind}: {written}", markup=False, soft_wrap=True)
    return code


def _html(result: Mapping[str, Any], path: Path | None) -> Path:
    from lightonocr_validation.bench.html_report import write_html

    assert path is not None
    return write_html(result, path)


def _charts(result: Mapping[str, Any], folder: Path | None) -> str:
    from lightonocr_validation.bench.charts import write_charts

    assert folder is not None
    return ", ".join(str(path) for path in write_charts(result, folder))


def _baseline(result: Mapping[str, Any], path: Path | None) -> Path:
    from lightonocr_validation.bench.compare import write_baseline

    assert path is not None
    return write_baseline(result, path)


def compare_with(baseline: Mapping[str, Any], result: Mapping[str, Any], *, console: Console, errors: Console) -> int:
    from lightonocr_validation.bench.compare import compare_results, render_comparison
    from lightonocr_validation.bench.readout import ResultError

    try:
        comparison = compare_results(baseline, result)
    except ResultError as error:
        print_error(errors, f"--compare: {error}")
        return EXIT_UNREACHABLE
    # A sweep compares dozens of figures: past a screenful, only those that moved are shown.
    console.print(render_comparison(comparison, only_changes=len(comparison.rows) > 40))
    return EXIT_OK if comparison.ok else EXIT_FAILED
