"""What every benchmark shares: timing, medians and percentiles, the result table.

A benchmark module exposes ``run(options) -> list[Result]`` and a ``main()`` for
``python -m bench.<name>``; ``bench.__main__`` runs them all and prints one table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import dataclass

POSTGRES_URL = os.environ.get("GENGXIN_BENCH_POSTGRES_URL",
                              "postgresql://postgres@127.0.0.1:5432/postgres")
DEFAULT_SEED = 20191
SIZES = (1_000, 10_000, 170_000)


@dataclass(frozen=True)
class Result:
    """One figure of one benchmark, with its target and whether it was met."""

    benchmark: str
    measure: str
    value: float
    unit: str
    target: str = ""
    met: bool | None = None
    note: str = ""

    def row(self) -> list[str]:
        verdict = {True: "yes", False: "NO", None: ""}[self.met]
        return [self.benchmark, self.measure, format_value(self.value, self.unit),
                self.target, verdict, self.note]


def format_value(value: float, unit: str) -> str:
    if unit == "bytes":
        if value >= 1e6:
            return f"{value / 1e6:.2f} MB"
        return f"{value / 1e3:.1f} KB"
    if unit == "x":
        return f"{value:.2f}×"
    if unit in ("ms", "s"):
        return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:.2f} {unit}"


def percentile(values: list[float], pct: float) -> float:
    """The `pct` percentile by linear interpolation (the same as numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: list[float]) -> float:
    return statistics.median(values)


class Stopwatch:
    """``with Stopwatch() as watch: ...`` then ``watch.seconds``."""

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._start


def markdown_table(results: list[Result]) -> str:
    header = ["Benchmark", "Measure", "Figure", "Target", "Met", "Note"]
    rows = [header, ["---"] * len(header)] + [r.row() for r in results]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in rows)


def argument_parser(description: str) -> argparse.ArgumentParser:
    """The options every benchmark takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--sizes", type=lambda text: [int(n) for n in text.split(",")],
                        default=list(SIZES), help="numbers of communities, e.g. 1000,10000")
    parser.add_argument("--runs", type=int, default=3, help="repeat and take the median")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--postgres-url", default=POSTGRES_URL,
                        help="a PostgreSQL server with PostGIS where the benchmark may create "
                             "databases named bench_*")
    return parser


def report(results: list[Result]) -> None:
    print(markdown_table(results), flush=True)
