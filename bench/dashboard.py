"""Benchmark 6: the dashboard's pages at 1k / 10k / 170k communities, exact after a change.

Each page is requested through the Flask test client in this process, so the time is the
server's whole response (routing, queries, templates), without a network. The unfiltered
district page and the CSVs read the summary tables (renovation.summaries), every street's
overdue items included; a street's page sums its own few hundred items through indexes; the
filtered views sum the items they select in two passes over covering indexes and are
reported beside them (hundreds of ms at 170k: fewer requests). Then one item's
status is changed (an ORM update, as the workflow does) and the district's figures are
compared with a full recomputation from the items, and every summary table with
renovation.summaries.check.

Runs on a scratch copy of each generated dataset (the change must not touch the cache).

    .venv/bin/python -m bench.dashboard --sizes 1000,10000 --runs 3
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import tempfile
import time

import sqlalchemy as sa

from bench import common, datasets

BENCHMARK = "6 dashboard"
TARGET_MS = 50
TARGET_SIZE = 170_000
REQUESTS_PER_RUN = 10

#: (name, path or a function of a random street code, reads the summaries)
PAGES = (
    ("/dashboard", "/dashboard", True),
    ("/dashboard/streets/<code>", lambda code: f"/dashboard/streets/{code}", True),
    ("/dashboard/comparison.csv (every street)", "/dashboard/comparison.csv", True),
    ("/dashboard/kinds.csv", "/dashboard/kinds.csv", True),
    ("/dashboard?kind=lift_retrofit", "/dashboard?kind=lift_retrofit", False),
    ("/dashboard?status=construction", "/dashboard?status=construction", False),
    ("/dashboard?pilot=1", "/dashboard?pilot=1", False),
    ("/dashboard?built_from=1980&built_to=1990", "/dashboard?built_from=1980&built_to=1990",
     False),
    ("/dashboard?overdue=1", "/dashboard?overdue=1", False),
)


def log(message: str) -> None:
    print(f"[dashboard] {message}", file=sys.stderr, flush=True)


def _app(url: str):
    from server import create_app

    return create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": False,
                       "INSTANCE_PATH": tempfile.mkdtemp(prefix="gengxin-bench-")})


def time_pages(app, runs: int, rng: random.Random, pages=PAGES) -> dict[str, list[float]]:
    """{page: response times in ms}, after warm-up requests."""
    from renovation.models import Street

    with app.extensions["gengxin.db"].session() as session:
        codes = session.scalars(sa.select(Street.code)).all()
    client = app.test_client()
    times = {}
    for name, path, summarised in pages:
        # The filtered views sum the items: hundreds of ms each at 170k, so fewer requests.
        warm_up, requests = (2, runs * REQUESTS_PER_RUN) if summarised else (1, runs + 1)
        for _ in range(warm_up):
            _get(client, _url(path, codes, rng))
        found = []
        for _ in range(requests):
            target = _url(path, codes, rng)
            start = time.perf_counter()
            _get(client, target)
            found.append(1000 * (time.perf_counter() - start))
        times[name] = found
        log(f"  {name}: p50 {common.percentile(found, 50):.1f} ms, "
            f"p95 {common.percentile(found, 95):.1f} ms")
    return times


def _url(path, codes: list[str], rng: random.Random) -> str:
    return path(rng.choice(codes)) if callable(path) else path


def _get(client, path: str) -> None:
    response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"{path} answered {response.status_code}")
    response.get_data()


def change_and_check(app, rng: random.Random) -> tuple[list[str], dict]:
    """Complete one unfinished item; return the differences between the dashboard and a full
    recomputation (none expected), and the figures before and after."""
    from renovation import dashboard, summaries
    from renovation.filters import Filters
    from renovation.models import Community, RenovationItem
    from renovation.progress import total_progress
    from renovation.status import Status

    today = dt.date.today()
    database = app.extensions["gengxin.db"]
    with database.session() as session:
        before = dashboard.build_dashboard(session, Filters(), today=today)
        candidates = session.scalars(
            sa.select(RenovationItem.id).where(RenovationItem.status == Status.CONSTRUCTION)
            .limit(200)).all()
        item = session.get(RenovationItem, rng.choice(candidates))
        street_id = session.get(Community, item.community_id).street_id
        item.status, item.progress_pct, item.actual_end = Status.COMPLETED, 100, today
        start = time.perf_counter()
        session.commit()
        write_ms = 1000 * (time.perf_counter() - start)
    with database.session() as session:
        start = time.perf_counter()
        after = dashboard.build_dashboard(session, Filters(), today=today)
        read_ms = 1000 * (time.perf_counter() - start)
        differences = []
        live = total_progress(session, today=today)
        if after.progress != live:
            differences.append(f"district progress {after.progress} != items' {live}")
        counts = dict(session.execute(sa.select(RenovationItem.status,
                                                sa.func.count(RenovationItem.id))
                                      .group_by(RenovationItem.status)).all())
        for row in after.statuses:
            if row.items != counts.get(row.status, 0):
                differences.append(f"{row.status}: {row.items} != {counts.get(row.status, 0)}")
        street = dashboard.street_rows(session, Filters(), today=today)  # the live path
        live_street = next(r for r in street if r.key == street_id)
        full = dashboard.comparison(session, Filters(), today=today, full=True)
        summary_street = next(r for r in full.rows if r.key == street_id)
        if summary_street.progress != live_street.progress:
            differences.append(f"street {summary_street.progress} != {live_street.progress}")
        start = time.perf_counter()
        differences += summaries.check(session)
        check_s = time.perf_counter() - start
    figures = {"done_before": before.progress.done, "done_after": after.progress.done,
               "percent_before": before.progress.percent, "percent_after": after.progress.percent,
               "write_ms": write_ms, "read_ms": read_ms, "check_s": check_s}
    return differences, figures


def measure(backend: str, n: int, url: str, runs: int, seed: int,
            summarised_only: bool = False) -> list[common.Result]:
    rng = random.Random(seed)
    app = _app(url)
    results = []
    pages = [p for p in PAGES if p[2] or not summarised_only]
    try:
        times = time_pages(app, runs, rng, pages)
        targeted = backend == "postgis" and n >= TARGET_SIZE
        for name, _path, summarised in pages:
            note = f"{backend}, {n:,} communities" + ("" if summarised else
                                                      ", filtered: two passes over the items")
            for pct in (50, 95):
                value = common.percentile(times[name], pct)
                results.append(common.Result(
                    BENCHMARK, f"{name} p{pct}", value, "ms",
                    target=f"≤ {TARGET_MS} ms" if targeted else "",
                    met=(value <= TARGET_MS) if targeted else None, note=note))
        differences, figures = change_and_check(app, rng)
        for line in differences[:10]:
            log(f"  DIFFERENCE {line}")
        results.append(common.Result(
            BENCHMARK, "differences from a full recomputation after a status update",
            len(differences), "differences", target="0", met=not differences,
            note=(f"{backend}, {n:,}: done {figures['done_before']:,} → "
                  f"{figures['done_after']:,}, progress {figures['percent_before']}% → "
                  f"{figures['percent_after']}%; check took {figures['check_s']:.1f} s")))
        results.append(common.Result(
            BENCHMARK, "status update commit, with its triggers", figures["write_ms"], "ms",
            note=f"{backend}, {n:,} communities"))
    finally:
        app.extensions["gengxin.db"].dispose()
    return results


def run(options) -> list[common.Result]:
    results = []
    for n in options.sizes:
        for backend in options.backends.split(","):
            log(f"{backend} at {n:,}: copying the dataset")
            url = datasets.scratch_copy(backend, n, seed=options.seed,
                                        postgres_url=options.postgres_url)
            try:
                results += measure(backend, n, url, options.runs, options.seed,
                                   getattr(options, "summarised_only", False))
            finally:
                datasets.drop_scratch(url, postgres_url=options.postgres_url)
    return results


def argument_parser():
    parser = common.argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--backends", default="postgis,spatialite")
    parser.add_argument("--summarised-only", action="store_true",
                        help="leave out the filtered views (seconds each at 170k)")
    return parser


def main() -> None:
    common.report(run(argument_parser().parse_args()))


if __name__ == "__main__":
    main()
