"""Run every benchmark and print one table: ``python -m bench`` (``make bench``).

Each benchmark builds what it needs from nothing (the generated datasets are cached under
bench/.data and in PostgreSQL databases named bench_*), runs several times and reports medians.
The table goes to stdout and, with the date and the machine, to bench/results/latest.md and
into the README between its bench markers.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import platform
import sys
import traceback
from pathlib import Path

import sqlalchemy as sa

from bench import common

#: In the order of the issue; each module has run(options) -> list[Result].
BENCHMARKS = ("map_weight", "viewport", "ogc_items", "import_footprints", "status_updates",
              "dashboard")
RESULTS = Path(__file__).resolve().parent / "results" / "latest.md"
README = Path(__file__).resolve().parent.parent / "README.md"
README_MARKERS = ("<!-- bench:start -->", "<!-- bench:end -->")


def quote_in_readme(text: str, readme: Path = README) -> None:
    """Put `text` between the README's bench markers, replacing what was there."""
    content = readme.read_text(encoding="utf-8")
    start, end = README_MARKERS
    before, _, rest = content.partition(start)
    _, _, after = rest.partition(end)
    if not rest:
        return
    readme.write_text(f"{before}{start}\n{text}\n{end}{after}", encoding="utf-8")


def machine(postgres_url: str) -> str:
    """One line naming the machine and the database versions the figures were taken on."""
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    parts = [f"{os.cpu_count()} cores", f"{memory_gib:.0f} GiB", platform.platform(terse=True),
             f"Python {platform.python_version()}"]
    try:
        engine = sa.create_engine(sa.make_url(postgres_url).set(drivername="postgresql+psycopg"))
        with engine.connect() as conn:
            parts.append(conn.execute(sa.text("SHOW server_version")).scalar().split()[0]
                         .join(["PostgreSQL ", ""]))
            postgis = conn.execute(sa.text(
                "SELECT default_version FROM pg_available_extensions WHERE name = 'postgis'"))
            parts.append(f"PostGIS {postgis.scalar()}")
        engine.dispose()
    except sa.exc.SQLAlchemyError as error:
        parts.append(f"PostgreSQL not reachable ({error.__class__.__name__})")
    from geo.spatialdb import create_spatial_engine
    engine = create_spatial_engine("sqlite://")
    with engine.connect() as conn:
        parts.append(f"SQLite {conn.execute(sa.text('SELECT sqlite_version()')).scalar()}")
        parts.append(f"SpatiaLite {conn.execute(sa.text('SELECT spatialite_version()')).scalar()}")
    engine.dispose()
    return ", ".join(parts)


def headline(results: list[common.Result]) -> list[common.Result]:
    """The rows the README quotes: those with a target, and the comparison with plain folium."""
    return [r for r in results if r.target or "folium" in r.measure]


def options_for(module, overrides: dict):
    """The module's own defaults, with the options given to ``python -m bench`` on top."""
    options = module.argument_parser().parse_args([])
    for name, value in overrides.items():
        setattr(options, name, value)
    return options


def main() -> int:
    parser = common.argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(BENCHMARKS),
                        help="comma-separated benchmarks to run: " + ", ".join(BENCHMARKS))
    # Each benchmark has its own defaults (the viewport benchmark: 200 views at 170k); only
    # what is given here overrides them.
    parser.set_defaults(sizes=None, runs=None)
    options = parser.parse_args()
    given = {name: getattr(options, name) for name in ("sizes", "runs")
             if getattr(options, name) is not None}
    given.update(seed=options.seed, postgres_url=options.postgres_url)
    results: list[common.Result] = []
    failed = []
    started = dt.datetime.now(dt.UTC)
    for name in options.only.split(","):
        print(f"[bench] --- {name} ---", file=sys.stderr, flush=True)
        module = importlib.import_module(f"bench.{name}")
        try:
            results.extend(module.run(options_for(module, given)))
        except Exception:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            failed.append(name)
            results.append(common.Result(name, "did not finish", float("nan"), "", met=False,
                                         note="see the log"))
    took = dt.datetime.now(dt.UTC) - started
    heading = (f"Measured {started:%Y-%m-%d} in {took.total_seconds() / 60:.0f} min on "
               f"{machine(options.postgres_url)}; seed {options.seed}; "
               + (f"sizes {options.sizes}, runs {options.runs}." if len(given) > 2 else
                  "each benchmark with its default sizes and runs (bench/README.md)."))
    table = common.markdown_table(results)
    print(heading)
    print(table)
    if set(options.only.split(",")) == set(BENCHMARKS):
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(f"{heading}\n\n{table}\n", encoding="utf-8")
        quote_in_readme(f"{heading}\n\n{common.markdown_table(headline(results))}\n\n"
                        "Every figure, with the sizes and runs behind it: "
                        "[bench/results/latest.md](bench/results/latest.md).")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
