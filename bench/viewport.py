"""Benchmark 2: what one map view costs at 170,000 communities, in the app and in bare SQL.

Random views of a 1280×760 map (padded by 20 % on each side, as ``gengxin-map.js``
asks) centred on random communities, at street zoom (15–16) and city zoom (11–12), are
requested of ``/api/map/communities`` as the map asks (``lean=1``), through the Flask
app in-process (its test client: the whole WSGI stack, routing, i18n, the database
queries and the JSON written, but no HTTP socket), without gzip. The same views go to
the database as one bare query: ``footprint && envelope`` (SpatiaLite: its spatial
index) building the whole FeatureCollection in SQL, with the same simplification and
decimals the app uses at that zoom (city zoom: a point per community, which is what
the app would send if it did not aggregate). p50 and p95 of each, and app/bare at p50.

    .venv/bin/python -m bench.viewport --sizes 170000 --runs 200
"""

from __future__ import annotations

import math
import random
import sys
import time

import sqlalchemy as sa

from bench import common, datasets

TARGETS_MS = {"postgis": (10.0, 25.0), "spatialite": (30.0, 75.0)}
ZOOMS = {"street": (15, 16), "city": (11, 12)}
WIDTH, HEIGHT, PAD = 1280, 760, 0.2
WARMUP = 20


def log(message: str) -> None:
    print(f"[viewport] {message}", file=sys.stderr, flush=True)


def view_box(lon: float, lat: float, zoom: int) -> tuple[float, float, float, float]:
    """The box the map asks for when centred on (lon, lat) at `zoom`."""
    degrees_per_pixel = 360.0 / (256 * 2 ** zoom)
    half_w = WIDTH * (1 + 2 * PAD) * degrees_per_pixel / 2
    half_h = HEIGHT * (1 + 2 * PAD) * degrees_per_pixel * math.cos(math.radians(lat)) / 2
    return (round(lon - half_w, 5), round(lat - half_h, 5),
            round(lon + half_w, 5), round(lat + half_h, 5))


def random_views(engine, n_views: int, zooms: tuple[int, ...], seed: int):
    """`n_views` (bbox, zoom) centred on communities picked at random, reproducibly."""
    rng = random.Random(seed)
    with engine.connect() as conn:
        count = conn.scalar(sa.text("SELECT max(id) FROM communities"))
        views = []
        while len(views) < n_views:
            cid = rng.randint(1, count)
            x_y = ("ST_X(location), ST_Y(location)")
            row = conn.execute(sa.text(f"SELECT {x_y} FROM communities WHERE id = :i"),
                               {"i": cid}).first()
            if row and row[0] is not None:
                zoom = rng.choice(zooms)
                views.append((view_box(row[0], row[1], zoom), zoom))
    return views


def bare_sql(dialect: str, bbox, zoom: int) -> tuple[str, dict]:
    """One query answering the view's FeatureCollection as text, built in the database."""
    from geo.bbox import decimals_for_zoom, tolerance_for_zoom
    from renovation.web.api_map import FOOTPRINT_MIN_ZOOM

    minx, miny, maxx, maxy = bbox
    params = {"minx": minx, "miny": miny, "maxx": maxx, "maxy": maxy,
              "d": decimals_for_zoom(zoom), "tol": tolerance_for_zoom(zoom)}
    points = zoom < FOOTPRINT_MIN_ZOOM
    if dialect == "sqlite":
        geometry = ("AsGeoJSON(location, :d)" if points
                    else "AsGeoJSON(coalesce(Simplify(footprint, :tol), footprint), :d)")
        sql = ("SELECT '{\"type\":\"FeatureCollection\",\"features\":[' || "
               "coalesce(group_concat('{\"type\":\"Feature\",\"id\":' || id || "
               "',\"geometry\":' || " + geometry + " || ',\"properties\":{\"name\":' || "
               "json_quote(name) || '}}', ','), '') || ']}' FROM communities "
               "WHERE id IN (SELECT rowid FROM SpatialIndex WHERE f_table_name = 'communities' "
               "AND f_geometry_column = 'footprint' "
               "AND search_frame = BuildMbr(:minx, :miny, :maxx, :maxy, 4326))")
    else:
        # Text joined as on SpatiaLite: json_build_object over ST_AsGeoJSON(...)::json would
        # parse each geometry again and write it back, a third of the query's time.
        geometry = ("ST_AsGeoJSON(location, :d)" if points
                    else "ST_AsGeoJSON(ST_Simplify(footprint, :tol, true), :d)")
        sql = ("SELECT '{\"type\":\"FeatureCollection\",\"features\":[' || "
               "coalesce(string_agg('{\"type\":\"Feature\",\"id\":' || id || "
               "',\"geometry\":' || " + geometry + " || ',\"properties\":{\"name\":' || "
               "to_json(name)::text || '}}', ','), '') || ']}' FROM communities "
               "WHERE footprint && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)")
    return sql, params


def measure(backend: str, url: str, n_views: int, seed: int) -> list[common.Result]:
    from geo.spatialdb import create_spatial_engine
    from server import create_app

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-viewport", "TESTING": False})
    client = app.test_client()
    engine = create_spatial_engine(url)
    results = []
    p50_target, p95_target = TARGETS_MS[backend]
    try:
        for scale, zooms in ZOOMS.items():
            views = random_views(engine, n_views + WARMUP, zooms, seed)
            app_ms, bare_ms, features, aggregated = [], [], [], 0
            with engine.connect() as conn:
                for i, (bbox, zoom) in enumerate(views):
                    path = (f"/api/map/communities?bbox={','.join(map(str, bbox))}"
                            f"&zoom={zoom}&lean=1")
                    started = time.perf_counter()
                    response = client.get(path)
                    body = response.get_data()
                    app_elapsed = time.perf_counter() - started
                    assert response.status_code == 200, body[:300]
                    sql, params = bare_sql(engine.dialect.name, bbox, zoom)
                    started = time.perf_counter()
                    text = conn.execute(sa.text(sql), params).scalar()
                    bare_elapsed = time.perf_counter() - started
                    assert text.startswith("{")
                    if i < WARMUP:
                        continue
                    app_ms.append(app_elapsed * 1000)
                    bare_ms.append(bare_elapsed * 1000)
                    data = response.get_json(force=True)
                    features.append(len(data["features"]))
                    aggregated += bool(data.get("aggregated"))
            app50, app95 = common.percentile(app_ms, 50), common.percentile(app_ms, 95)
            bare50, bare95 = common.percentile(bare_ms, 50), common.percentile(bare_ms, 95)
            note = (f"zoom {'/'.join(map(str, zooms))}, {n_views} views, median "
                    f"{common.median(features):.0f} features"
                    + (f", {aggregated} aggregated" if aggregated else ""))
            log(f"{backend} {scale}: app p50 {app50:.1f} p95 {app95:.1f} ms, bare p50 "
                f"{bare50:.1f} p95 {bare95:.1f} ms; {note}")
            name = f"{scale} views ({backend})"
            results += [
                common.Result("viewport", f"{name} app p50", app50, "ms",
                              f"≤ {p50_target:g} ms", app50 <= p50_target, note),
                common.Result("viewport", f"{name} app p95", app95, "ms",
                              f"≤ {p95_target:g} ms", app95 <= p95_target),
                common.Result("viewport", f"{name} bare SQL p50", bare50, "ms"),
                common.Result("viewport", f"{name} bare SQL p95", bare95, "ms"),
                common.Result("viewport", f"{name} app / bare at p50", app50 / bare50, "x",
                              "≤ 2×", app50 / bare50 <= 2.0),
            ]
    finally:
        engine.dispose()
        app.extensions["gengxin.db"].engine.dispose()
    return results


def run(options) -> list[common.Result]:
    results = []
    for n in options.sizes:
        for backend in options.backends.split(","):
            url = datasets.ensure(backend, n, seed=options.seed,
                                  postgres_url=options.postgres_url)
            log(f"{backend} at {n:,}: {url}")
            results += measure(backend, url, options.runs, options.seed)
    return results


def argument_parser():
    parser = common.argument_parser(__doc__.splitlines()[0])
    parser.set_defaults(sizes=[170_000], runs=200)
    parser.add_argument("--backends", default="postgis,spatialite")
    return parser


def main() -> None:
    common.report(run(argument_parser().parse_args()))


if __name__ == "__main__":
    main()
