"""Benchmark 4: importing a GeoPackage of community footprints, with every check of an import.

For each size, the generated programme's footprints (``bench.datasets.footprints_gpkg``: layer
``communities`` with code, name, street_code, year_built, building_area_m2, households,
is_pilot, in EPSG:4326) are loaded three ways, one after the other in each run:

- **plain**: ``geopandas.read_file(gpkg).to_postgis(...)`` into a fresh table, then
  ``CREATE INDEX ... USING GIST``: what someone would do without the app, with no checks;
- **ours, PostGIS** and **ours, SpatiaLite**: ``flask import GPKG --layer communities``
  (the command itself, through Flask's CLI runner) into a copy of the database holding the
  programme's streets and no communities (``bench.datasets.empty_with_streets``): reading,
  every check of an import (validity and repair, geometry types, duplicate codes, unknown
  streets, footprint in its street, overlaps in the file and with the database, CRS), and
  the all-or-nothing write in one transaction, the summary tables exact at the commit (a
  load this large suspends their triggers and rebuilds them once: ``_bulk_load`` in
  ``renovation/importing.py``).

Each load runs in its own process, so its peak memory (``VmHWM``) is its own; the time
is measured inside that process from before the file is opened to after the commit (Python
start-up and imports are left out of both sides alike). The figures are medians of
``--runs`` runs. The child's CPU time (start-up included) is noted for SpatiaLite: on a
shared machine the wall time of that import, all in the child, is this CPU plus waiting
for a core. Targets (at 170,000 communities): ours on PostGIS at most 1.5× plain, and at
most 60 s into SpatiaLite.

    .venv/bin/python -m bench.import_footprints --sizes 10000 --runs 3
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from bench import common, datasets

ROOT = Path(__file__).resolve().parent.parent
BENCHMARK = "4 import"
TARGET_RATIO = 1.5
TARGET_SPATIALITE_S = 60.0
#: The size the issue sets the targets for; other sizes are reported without a verdict.
TARGET_SIZE = 170_000


def log(message: str) -> None:
    print(f"[import_footprints] {message}", file=sys.stderr, flush=True)


# --- The measured loads, each in a child process --------------------------------------------

def _plain(gpkg: Path, url: str, features: int) -> dict:
    """geopandas.read_file(...).to_postgis(...) into a fresh table, then a GiST index."""
    import geopandas as gpd
    import sqlalchemy as sa

    engine = sa.create_engine(sa.make_url(url).set(drivername="postgresql+psycopg"))
    started = time.perf_counter()
    frame = gpd.read_file(gpkg, layer="communities")
    frame.to_postgis("plain_communities", engine, if_exists="replace", index=False)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE INDEX plain_communities_geometry ON plain_communities "
                             "USING GIST (geometry)")
    seconds = time.perf_counter() - started
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT count(*) FROM plain_communities").scalar()
    engine.dispose()
    return {"seconds": seconds, "rows": rows}


def _ours(gpkg: Path, url: str, features: int) -> dict:
    """``flask import GPKG --layer communities``, as an operator runs it."""
    import sqlalchemy as sa

    from server import create_app

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    runner = app.test_cli_runner()
    megabytes = gpkg.stat().st_size // 2**20 + 1
    started = time.perf_counter()
    result = runner.invoke(args=["import", str(gpkg), "--layer", "communities",
                                 "--max-features", str(features), "--max-mb", str(megabytes)])
    seconds = time.perf_counter() - started
    if result.exit_code != 0:
        import traceback

        trace = "".join(traceback.format_exception(result.exception)) \
            if result.exception is not None else ""
        raise SystemExit(f"flask import failed ({result.exit_code}):\n"
                         f"{result.output[-1500:]}\n{trace[-3000:]}")
    database = app.extensions["gengxin.db"]
    with database.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT count(*) FROM communities")).scalar()
    database.dispose()
    return {"seconds": seconds, "rows": rows, "summary": result.output.splitlines()[-1]}


def _child(kind: str, gpkg: Path, url: str, features: int) -> None:
    found = {"plain": _plain, "ours": _ours}[kind](gpkg, url, features)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    found["peak_mb"] = _peak_rss_kib(usage) / 1024
    # The CPU this process used (not PostgreSQL's): on a busy machine the wall time of the
    # SpatiaLite import, which runs wholly in this process, is this and the waiting.
    found["cpu_s"] = usage.ru_utime + usage.ru_stime
    print(json.dumps(found), flush=True)


def _peak_rss_kib(usage) -> float:
    """This process's peak resident memory in KiB: the kernel's high-water mark of its
    address space (``VmHWM``), which starts afresh at exec. ``ru_maxrss`` (of this process
    or as a parent's RUSAGE_CHILDREN) would carry over the size of the process it was
    forked from, the benchmark's own, which holds a whole generated programme when it has
    just built one; it is the fallback where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    except OSError:
        pass
    return float(usage.ru_maxrss)


def _measure(kind: str, gpkg: Path, url: str, features: int) -> dict:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.import_footprints", "--child", kind, "--gpkg", str(gpkg),
         "--url", url, "--features", str(features)],
        cwd=ROOT, capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    if completed.returncode != 0:
        raise RuntimeError(f"{kind} load into {url} failed:\n{completed.stderr[-3000:]}"
                           f"{completed.stdout[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --- The benchmark --------------------------------------------------------------------------

def run(options) -> list[common.Result]:
    results = []
    for n in options.sizes:
        gpkg = datasets.footprints_gpkg(n, seed=options.seed)
        log(f"{n:,} communities: {gpkg.name}, {gpkg.stat().st_size / 1e6:.0f} MB")
        found: dict[str, list[dict]] = {"plain": [], "postgis": [], "spatialite": []}
        for number in range(1, options.runs + 1):
            for name, kind, backend in (("plain", "plain", "postgis"),
                                        ("postgis", "ours", "postgis"),
                                        ("spatialite", "ours", "spatialite")):
                url = datasets.scratch_copy(backend, n, seed=options.seed,
                                            postgres_url=options.postgres_url, kind="streets")
                try:
                    measured = _measure(kind, gpkg, url, n)
                finally:
                    datasets.drop_scratch(url, postgres_url=options.postgres_url)
                if measured["rows"] != n:
                    raise RuntimeError(f"{name} loaded {measured['rows']} rows, not {n}")
                found[name].append(measured)
                log(f"run {number}: {name:<10} {measured['seconds']:6.1f} s, "
                    f"process CPU {measured['cpu_s']:5.1f} s, "
                    f"peak {measured['peak_mb']:,.0f} MB")
        results += _results(n, found)
    return results


def _results(n: int, found: dict[str, list[dict]]) -> list[common.Result]:
    seconds = {name: common.median([m["seconds"] for m in runs]) for name, runs in found.items()}
    peaks = {name: common.median([m["peak_mb"] for m in runs]) for name, runs in found.items()}
    cpu = {name: common.median([m["cpu_s"] for m in runs]) for name, runs in found.items()}
    judged = n == TARGET_SIZE
    ratio = seconds["postgis"] / seconds["plain"]
    size = f"{n:,} communities"
    return [
        common.Result(BENCHMARK, f"plain read_file + to_postgis + GiST, {size}",
                      seconds["plain"], "s", note=f"peak {peaks['plain']:,.0f} MB"),
        common.Result(BENCHMARK, f"flask import into PostGIS, {size}", seconds["postgis"],
                      "s", note=f"peak {peaks['postgis']:,.0f} MB; all checks, summaries exact"),
        common.Result(BENCHMARK, f"PostGIS import / plain, {size}", ratio, "x",
                      target=f"≤ {TARGET_RATIO}×" if judged else "",
                      met=ratio <= TARGET_RATIO if judged else None),
        common.Result(BENCHMARK, f"flask import into SpatiaLite, {size}",
                      seconds["spatialite"], "s",
                      target=f"≤ {TARGET_SPATIALITE_S:.0f} s" if judged else "",
                      met=seconds["spatialite"] <= TARGET_SPATIALITE_S if judged else None,
                      note=f"peak {peaks['spatialite']:,.0f} MB; "
                           f"{cpu['spatialite']:.0f} s of CPU, all in the process"),
    ]


def argument_parser():
    import argparse

    parser = common.argument_parser(__doc__.split("\n", 1)[0])
    parser.add_argument("--child", choices=("plain", "ours"), help=argparse.SUPPRESS)
    parser.add_argument("--gpkg", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--features", type=int, help=argparse.SUPPRESS)
    return parser


def main() -> None:
    options = argument_parser().parse_args()
    if options.child:
        _child(options.child, options.gpkg, options.url, options.features)
        return
    common.report(run(options))


if __name__ == "__main__":
    main()
