"""How well a fleet scales: its total pages/s against N times one GPU's, at the same load per GPU.

    scaling efficiency = total pages/s / (N x one GPU's pages/s)

1.0 is perfect scaling (N GPUs serve N times the pages); 0.5 on two GPUs means the second one added nothing.
Both figures are kept beside the ratio, so a reader can see which one moved.

The load is per GPU: `--concurrency 8 --replicas 2` keeps 8 requests in flight on each replica (16 in all),
and a data-parallel server given `--gpus 2` gets 16 at once. Comparing a fleet with one GPU at the same total
load would measure a fleet half-empty: each GPU would see half the requests that filled the single one.

One GPU's figure comes from one of two places, recorded as `single_gpu.source`:
- measured by the same bench, before the fleet, on the first replica that answered, alone, at the per-replica
  load (`--replicas N`): the same pages, settings and client, minutes apart;
- a previous one-GPU bench result (`--single-gpu RESULT.json`): the only way for a data-parallel server, whose
  GPUs cannot be loaded one at a time, and a way to skip the first phase for replicas.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from lightonocr_validation.bench.readout import Load, ResultError, load_of, load_result, series_of
from lightonocr_validation.core.serialize import public_url

# The figures of one GPU kept in the result beside the efficiency, per load.
KEPT = {
    "pages_per_s": ("pages_per_s",),
    "e2e_p50_s": ("e2e_s", "p50"),
    "e2e_p95_s": ("e2e_s", "p95"),
    "requests": ("requests",),
    "errors": ("errors",),
}


@dataclass(frozen=True)
class SingleGpu:
    """One GPU's figures at each load it was measured at, and where they come from."""

    source: str
    host: str
    loads: Mapping[Load, Mapping[str, Any]]  # load -> figures (as a result's `summary.loads[].figures`)


def read_single_gpu(path: Path) -> SingleGpu:
    """A previous bench result of one server on one GPU; ResultError (one line) when it is not one."""
    result = load_result(path)
    hosts = result["hosts"]
    scaling = result.get("scaling")
    if len(hosts) != 1 or (isinstance(scaling, dict) and (scaling.get("gpus") or 1) > 1):
        raise ResultError(
            f"{path}: a bench of {len(hosts)} host(s) over several GPUs, not of one GPU; "
            "give the result of `invoke bench` against one server on one GPU"
        )
    (series,) = series_of(result)
    loads = {load: series.pooled[load]["figures"] for load in series.loads if load in series.pooled}
    for load in series.loads:
        if load not in loads:  # an old result without summary.loads: the first run's figures
            loads[load] = series.by_load[load][0]["figures"]
    return SingleGpu(source=f"file: {path}", host=series.name, loads=loads)


def measured(host: str, summary_loads: Sequence[Mapping[str, Any]]) -> SingleGpu:
    """One GPU's figures from the first phase of the same bench (a host's `summary.loads`)."""
    loads = {load: entry["figures"] for entry in summary_loads if (load := load_of(entry)) is not None}
    return SingleGpu(source=f"measured: {host} alone, before the fleet, at the same load", host=host, loads=loads)


def per_gpu(load: Load, gpus: int, layout: str) -> Load:
    """The load one GPU saw: a replica's own load; a data-parallel server's divided among its GPUs."""
    return Load(load.kind, load.value / gpus) if layout == "data-parallel" else load


def block(
    *, layout: str, gpus: int, totals: Sequence[Mapping[str, Any]], single: SingleGpu, single_loads: bool = True
) -> dict[str, Any]:
    """The result's `scaling` object: for each load (per GPU) the fleet's total pages/s, one GPU's, and their
    ratio over N; `peak` sets the best of each against each other, whatever load it was reached at.

    `totals` are the fleet's `summary.loads` (replicas) or the one data-parallel host's."""
    loads = []
    for entry in totals:
        load = load_of(entry)
        if load is None:
            continue
        load = per_gpu(load, gpus, layout)
        total = _figure(entry["figures"], ("pages_per_s",))
        alone = single.loads.get(load)
        one = _figure(alone, ("pages_per_s",)) if alone is not None else None
        loads.append(
            {
                **_where(load),
                "total_pages_per_s": total,
                "total_e2e_p95_s": _figure(entry["figures"], ("e2e_s", "p95")),
                "single_gpu_pages_per_s": one,
                "single_gpu_e2e_p95_s": _figure(alone, ("e2e_s", "p95")) if alone is not None else None,
                "efficiency": efficiency(total, one, gpus),
            }
        )
    best_total = max((entry["total_pages_per_s"] or 0.0 for entry in loads), default=None)
    best_one = max((_figure(f, ("pages_per_s",)) or 0.0 for f in single.loads.values()), default=None)
    return {
        "layout": layout,
        "gpus": gpus,
        "definition": "total pages/s / (gpus x one GPU's pages/s), at the same load per GPU",
        "single_gpu": {
            "source": single.source,
            "host": public_url(single.host),
            "loads": [
                {**_where(load), **{name: _figure(figures, path) for name, path in KEPT.items()}}
                for load, figures in sorted(single.loads.items())
            ],
        },
        "loads": loads,
        "peak": {
            "total_pages_per_s": best_total,
            "single_gpu_pages_per_s": best_one,
            "efficiency": efficiency(best_total, best_one, gpus),
        },
    }


def efficiency(total: float | None, one: float | None, gpus: int) -> float | None:
    """total / (gpus x one); None when either is missing or one GPU served nothing."""
    if total is None or not one or gpus < 1:
        return None
    return total / (gpus * one)


def lines(scaling: Mapping[str, Any]) -> list[str]:
    """The scaling in words, one line per load and the peak: each efficiency with the two figures it is made of."""
    gpus = scaling["gpus"]
    what = f"{gpus} replicas" if scaling["layout"] == "replicas" else f"one data-parallel server on {gpus} GPUs"
    out = [f"scaling: {what}; one GPU's figure {scaling['single_gpu']['source']}"]
    for entry in scaling["loads"]:
        out.append(
            f"  {_load_text(entry)} per GPU: {_pages(entry['total_pages_per_s'])} total / "
            f"({gpus} x {_pages(entry['single_gpu_pages_per_s'])} on one GPU) = "
            f"{_share(entry['efficiency'])} scaling efficiency"
        )
    peak = scaling["peak"]
    if len(scaling["loads"]) != 1 or scaling["loads"][0]["efficiency"] is None:
        out.append(
            f"  peak: {_pages(peak['total_pages_per_s'])} total / ({gpus} x {_pages(peak['single_gpu_pages_per_s'])} "
            f"on one GPU) = {_share(peak['efficiency'])} scaling efficiency"
        )
    return out


def replica_table(result: Mapping[str, Any]) -> Table | None:
    """Per replica and in total, at each load: pages/s, e2e p50/p95 and errors out of requests; None without a
    fleet. A replica that is down shows every request as an error, beside the others' figures."""
    fleet = result.get("fleet")
    if not fleet:
        return None
    count = len(result["hosts"])
    table = Table(title=f"fleet of {count} replicas: per replica and in total", title_justify="left")
    for column in ("load", "replica", "pages/s", "e2e p50", "e2e p95", "errors"):
        table.add_column(column, justify="left" if column in ("load", "replica") else "right")
    groups = [(host["name"], host["summary"]["loads"]) for host in result["hosts"]]
    groups.append((f"total ({count})", fleet["summary"]["loads"]))
    for index, entry in enumerate(fleet["summary"]["loads"]):
        load = load_of(entry)
        for name, loads in groups:
            figures = loads[index]["figures"] if index < len(loads) else {}
            table.add_row(
                load.label if load else "-",
                name,
                _fixed(_figure(figures, ("pages_per_s",)), 2),
                _fixed(_figure(figures, ("e2e_s", "p50")), 3, " s"),
                _fixed(_figure(figures, ("e2e_s", "p95")), 3, " s"),
                f"{figures.get('errors', 0)} of {figures.get('requests', 0)}",
            )
    return table


def _figure(figures: Mapping[str, Any] | None, path: Sequence[str]) -> Any:
    value: Any = figures or {}
    for part in path:
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _where(load: Load) -> dict[str, Any]:
    value: float | int = int(load.value) if float(load.value).is_integer() else load.value
    return {
        "concurrency": value if load.kind == "concurrency" else None,
        "rate": value if load.kind == "rate" else None,
    }


def _load_text(entry: Mapping[str, Any]) -> str:
    return f"rate {entry['rate']:g}/s" if entry.get("rate") is not None else f"concurrency {entry['concurrency']:g}"


def _pages(value: float | None) -> str:
    return f"{_fixed(value, 2)} pages/s"


def _fixed(value: Any, digits: int, unit: str = "") -> str:
    return "-" if not isinstance(value, int | float) else f"{value:.{digits}f}{unit}"


def _share(value: float | None) -> str:
    return "no" if value is None else f"{value:.0%}"
