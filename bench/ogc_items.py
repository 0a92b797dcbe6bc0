"""Benchmark 3: OGC API – Features items, ours against pygeoapi, on the same PostGIS table.

Both servers run under the same gunicorn (same version, same number of sync
workers) over the same database: ours as ``gunicorn 'server:create_app()'``,
pygeoapi (its PostgreSQL provider, in its own virtual environment built from PyPI
on first use) serving the ``communities`` table. One client asks both for
``/collections/communities/items?bbox=...&limit=1000`` over the same random
street-sized boxes (the extent of a random street's communities), ours and
pygeoapi one after the other in every run, the order swapped between runs. Before
timing, both must return the same feature ids for the first boxes.

    .venv/bin/python -m bench.ogc_items --sizes 1000 --runs 3

Target: our p50 and p95 at most half of pygeoapi's.
"""

from __future__ import annotations

import http.client
import json
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import sqlalchemy as sa

from bench import common, servers
from bench.pygeoapi import config as pygeoapi_config
from bench.pygeoapi import venv as pygeoapi_venv

ROOT = Path(__file__).resolve().parent.parent
BENCHMARK = "3 OGC items"
LIMIT = 1000
#: Boxes whose answers are compared id by id before any timing.
CHECKED_BOXES = 20


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def argument_parser():
    parser = common.argument_parser(__doc__.split("\n\n")[0])
    parser.set_defaults(sizes=[170_000])
    parser.add_argument("--workers", type=int, default=2,
                        help="gunicorn sync workers, the same for both servers (default 2)")
    parser.add_argument("--requests", type=int, default=200,
                        help="requests per server per run (default 200)")
    parser.add_argument("--clients", type=int, default=1,
                        help="parallel clients, each making its requests one after another")
    parser.add_argument("--port", type=int, default=8761,
                        help="our server's port; pygeoapi gets the next one")
    parser.add_argument("--database-url",
                        help="use this PostGIS database instead of bench.datasets (one size)")
    return parser


# --- Servers --------------------------------------------------------------------------------------

def ours(database_url: str, port: int, workers: int):
    env = {"DATABASE_URL": database_url, "SECRET_KEY": "bench-ogc-items",
           "PYTHONPATH": str(ROOT)}
    return servers.gunicorn("server:create_app()", name="ours", port=port, workers=workers,
                            env=env, ready_path="/ogc/collections/communities/items?limit=1&f=json")


def pygeoapi(database_url: str, port: int, workers: int, directory: Path):
    python = pygeoapi_venv.ensure_venv()
    env = pygeoapi_config.write(database_url, port, directory, python)
    return servers.gunicorn("pygeoapi.flask_app:APP", name=f"pygeoapi {pygeoapi_venv.version()}",
                            python=python, port=port, workers=workers, env=env, cwd=directory,
                            ready_path="/collections/communities/items?limit=1&f=json")


# --- Client ---------------------------------------------------------------------------------------

def fetch(connection: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    """GET `path` on `connection` (reconnecting if the server closed it): status and body."""
    connection.request("GET", path, headers={"Accept": "application/geo+json"})
    response = connection.getresponse()
    return response.status, response.read()


def items_path(prefix: str, box) -> str:
    query = urlencode({"bbox": ",".join(f"{v:.6f}" for v in box), "limit": LIMIT, "f": "json"})
    return f"{prefix}/collections/communities/items?{query}"


def feature_ids(base: str, prefix: str, box) -> tuple[list, int | None]:
    host, port = base.removeprefix("http://").split(":")
    status, body = fetch(http.client.HTTPConnection(host, int(port), timeout=60),
                         items_path(prefix, box))
    if status != 200:
        raise RuntimeError(f"{base}{items_path(prefix, box)} answered {status}: {body[:300]!r}")
    found = json.loads(body)
    return [int(f["id"]) for f in found["features"]], found.get("numberMatched")


def time_requests(base: str, prefix: str, boxes: list, clients: int) -> list[float]:
    """Milliseconds per request, each from sending it to having read the whole body."""
    host, port = base.removeprefix("http://").split(":")
    shares = [boxes[i::clients] for i in range(clients)]
    timings: list[list[float]] = [[] for _ in shares]

    def client(share, out):
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        for box in share:
            start = time.perf_counter()
            status, body = fetch(connection, items_path(prefix, box))
            out.append((time.perf_counter() - start) * 1000)
            if status != 200:
                raise RuntimeError(f"{base} answered {status}: {body[:300]!r}")
        connection.close()

    if clients == 1:
        client(shares[0], timings[0])
    else:
        with ThreadPoolExecutor(clients) as pool:
            for future in [pool.submit(client, s, t) for s, t in zip(shares, timings, strict=True)]:
                future.result()
    return [t for share in timings for t in share]


# --- The benchmark --------------------------------------------------------------------------------

def street_boxes(database_url: str, count: int, seed: int) -> list[tuple[float, ...]]:
    """`count` boxes, each around the communities of a street picked at random."""
    engine = sa.create_engine(sa.make_url(database_url).set(drivername="postgresql+psycopg"))
    with engine.connect() as connection:
        extents = connection.execute(sa.text(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
            "(SELECT ST_Extent(footprint)::geometry AS e FROM communities "
            " WHERE footprint IS NOT NULL GROUP BY street_id ORDER BY street_id) AS s")).all()
    engine.dispose()
    if not extents:
        raise RuntimeError(f"{database_url} has no communities with footprints")
    pick = random.Random(seed)
    return [tuple(float(v) for v in pick.choice(extents)) for _ in range(count)]


def database_for(options, size: int) -> str:
    if options.database_url:
        return options.database_url
    from bench import datasets  # the lead's generator; imported only when needed
    return datasets.ensure("postgis", size, seed=options.seed, postgres_url=options.postgres_url)


def check_same_features(bases: dict, boxes: list) -> list[int]:
    """Fail unless every server returns the same ids for each box; the numbers returned."""
    returned = []
    for box in boxes:
        answers = {name: feature_ids(base, prefix, box) for name, (base, prefix) in bases.items()}
        (first, a), (second, b) = answers.items()
        if a[0] != b[0]:
            raise RuntimeError(f"{first} and {second} disagree on bbox {box}: "
                               f"{len(a[0])} and {len(b[0])} features, "
                               f"first differences {sorted(set(a[0]) ^ set(b[0]))[:10]}")
        if a[1] is not None and b[1] is not None and a[1] != b[1]:
            raise RuntimeError(f"numberMatched differs on bbox {box}: {a[1]} and {b[1]}")
        returned.append(len(a[0]))
    return returned


def measure(options, size: int) -> list[common.Result]:
    database_url = database_for(options, size)
    boxes = street_boxes(database_url, options.requests, options.seed)
    with tempfile.TemporaryDirectory(prefix="bench-ogc-") as directory, \
            ours(database_url, options.port, options.workers) as our_server, \
            pygeoapi(database_url, options.port + 1, options.workers,
                     Path(directory)) as their_server:
        bases = {"ours": (our_server.url, "/ogc"), "pygeoapi": (their_server.url, "")}
        returned = check_same_features(bases, boxes[:CHECKED_BOXES])
        log(f"{size:,}: both return the same features for {len(returned)} boxes "
            f"(median {common.median(returned):.0f} features, at most {max(returned)})")
        for base, prefix in bases.values():  # warm every worker's caches
            time_requests(base, prefix, boxes[:4 * options.workers], options.clients)
        figures: dict[str, dict[str, list[float]]] = {n: {"p50": [], "p95": []} for n in bases}
        for run in range(options.runs):
            order = list(bases) if run % 2 == 0 else list(bases)[::-1]
            for name in order:
                base, prefix = bases[name]
                timings = time_requests(base, prefix, boxes, options.clients)
                figures[name]["p50"].append(common.percentile(timings, 50))
                figures[name]["p95"].append(common.percentile(timings, 95))
                log(f"{size:,} run {run + 1}: {name} p50 {figures[name]['p50'][-1]:.1f} ms, "
                    f"p95 {figures[name]['p95'][-1]:.1f} ms")
    note = (f"{size:,} communities, limit={LIMIT}, {options.workers} gunicorn sync workers "
            f"each, {options.clients} client(s), {options.requests} requests × "
            f"{options.runs} runs, medians")
    results = [common.Result(BENCHMARK, "features per request (median)",
                             common.median(returned), "features",
                             note=f"{size:,} communities, street-sized boxes, the same ids "
                                  f"from both servers for {len(returned)} boxes checked")]
    for stat in ("p50", "p95"):
        mine = common.median(figures["ours"][stat])
        theirs = common.median(figures["pygeoapi"][stat])
        ratio = mine / theirs
        results += [
            common.Result(BENCHMARK, f"pygeoapi {stat}", theirs, "ms", note=note),
            common.Result(BENCHMARK, f"ours {stat}", mine, "ms", f"≤ {theirs / 2:.1f} ms",
                          mine <= theirs / 2, note),
            common.Result(BENCHMARK, f"ours / pygeoapi {stat}", ratio, "x", "≤ 0.50×",
                          ratio <= 0.5, note),
        ]
    return results


def with_defaults(options):
    """`options` with this benchmark's own options added at their defaults where missing
    (``python -m bench`` parses only the options every benchmark shares)."""
    found = argument_parser().parse_args([])
    vars(found).update(vars(options))
    return found


def run(options) -> list[common.Result]:
    options = with_defaults(options)
    servers.check_port_free(options.port)
    servers.check_port_free(options.port + 1)
    results = []
    for size in options.sizes:
        results += measure(options, size)
    return results


def main() -> None:
    options = argument_parser().parse_args()
    try:
        results = run(options)
    except servers.PortBusy as error:
        raise SystemExit(f"bench.ogc_items: {error}") from None
    common.report(results)


if __name__ == "__main__":
    main()
