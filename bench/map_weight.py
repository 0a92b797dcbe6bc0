"""Benchmark 1: the bytes a browser downloads for the district map's first view.

For each size, the app serves a generated programme (``bench.datasets.ensure``) from
gunicorn; headless Chromium (Playwright, 1280×760) opens ``/`` with an empty cache and
waits until the network has been idle for half a second. Every response's transferred
size (Chrome's ``encodedDataLength``: headers plus body as sent, so after gzip) is summed.

Against it, the plain folium approach: one page embedding every footprint as
``folium.GeoJson`` (with the community's name as tooltip), written by folium from the
same database. Its figure is the page file plus folium's default CDN assets at their
gzip size (CDNs compress); the page itself is counted as written (a static file
server need not compress it). Building that page at 170,000 communities takes minutes
and gigabytes, so its result is kept in ``bench/.data/folium_<n>_<seed>.json`` and
reused; ``--remeasure-folium`` measures again, ``--skip-folium`` leaves it out.

    .venv/bin/python -m bench.map_weight --sizes 1000,10000
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import time
from pathlib import Path

from bench import common, datasets, servers

ROOT = Path(__file__).resolve().parent.parent
TARGET_BYTES = 1_500_000
VIEWPORT = {"width": 1280, "height": 760}
CHROMIUM = os.environ.get("GENGXIN_CHROMIUM", "/usr/bin/chromium")


def log(message: str) -> None:
    print(f"[map_weight] {message}", file=sys.stderr, flush=True)


def app_server(database_url: str):
    """The app behind gunicorn (2 workers, 4 threads each) on a free local port."""
    env = {"DATABASE_URL": database_url, "SECRET_KEY": "bench-map-weight", "BASEMAP": "none"}
    return servers.gunicorn("server:create_app()", ready_path="/static/css/app.css", env=env,
                            workers=2, threads=4, worker_class="gthread")


def first_view(browser, base_url: str, path: str = "/") -> dict:
    """Bytes and requests of one cold load of `path`, until the network is idle."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        sizes: dict[str, float] = {}
        urls: dict[str, str] = {}
        cdp.on("Network.requestWillBeSent",
               lambda e: urls.__setitem__(e["requestId"], e["request"]["url"]))
        cdp.on("Network.loadingFinished",
               lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
        page.goto(base_url + path, wait_until="networkidle", timeout=120_000)
        page.wait_for_timeout(300)
        by_url = sorted(((sizes[r], urls.get(r, "?")) for r in sizes), reverse=True)
        drawn = page.evaluate("document.querySelectorAll('.gx-community, .gx-area').length")
        return {"bytes": sum(sizes.values()), "requests": len(sizes), "largest": by_url[:5],
                "drawn": drawn}
    finally:
        context.close()


# --- Plain folium -----------------------------------------------------------------------------

def _folium_assets_bytes() -> int:
    """folium's default JS and CSS (our vendored copies of its CDN files), gzipped."""
    import folium

    from geo.assets import LOCAL_ASSETS

    m = folium.Map()
    names = [url for _, url in (*m.default_js, *m.default_css)]
    total = 0
    for url in names:
        local = LOCAL_ASSETS.get(url)
        if local:
            total += len(gzip.compress((ROOT / "static" / local).read_bytes(), 6))
    return total


def plain_folium(database_url: str, n: int, seed: int, *, remeasure: bool) -> dict:
    """Write the plain folium page of every footprint; its bytes and build time (cached)."""
    cache = datasets.DATA_DIR / f"folium_{n}_{seed}.json"
    if cache.exists() and not remeasure:
        return json.loads(cache.read_text()) | {"cached": True}
    import folium
    import geopandas as gpd

    from geo.spatialdb import create_spatial_engine

    log(f"plain folium at {n:,}: reading footprints")
    engine = create_spatial_engine(database_url)
    started = time.perf_counter()
    try:
        with engine.connect() as conn:
            sql = "SELECT code, name, footprint FROM communities WHERE footprint IS NOT NULL"
            if engine.dialect.name == "sqlite":
                import pandas as pd
                import shapely
                frame = pd.read_sql("SELECT code, name, AsBinary(footprint) AS wkb "
                                    "FROM communities WHERE footprint IS NOT NULL", conn)
                frame = gpd.GeoDataFrame(frame[["code", "name"]],
                                         geometry=shapely.from_wkb(frame["wkb"]), crs=4326)
            else:
                frame = gpd.read_postgis(sql, conn, geom_col="footprint", crs=4326)
    finally:
        engine.dispose()
    log(f"plain folium at {n:,}: building the page of {len(frame):,} footprints")
    bounds = frame.total_bounds
    m = folium.Map(location=[(bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2],
                   zoom_start=12, tiles=None)
    folium.GeoJson(frame, name="communities",
                   tooltip=folium.GeoJsonTooltip(fields=["name"])).add_to(m)
    m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    path = datasets.DATA_DIR / f"folium_{n}_{seed}.html"
    m.save(str(path))
    seconds = time.perf_counter() - started
    page_bytes = path.stat().st_size
    path.unlink()  # hundreds of megabytes at 170k: the figure is what we keep
    result = {"page_bytes": page_bytes, "asset_bytes": _folium_assets_bytes(),
              "build_s": seconds}
    cache.write_text(json.dumps(result))
    return result | {"cached": False}


# --- The benchmark ----------------------------------------------------------------------------

def run(options) -> list[common.Result]:
    from playwright.sync_api import sync_playwright

    results = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for n in options.sizes:
                url = datasets.ensure(options.backend, n, seed=options.seed,
                                      postgres_url=options.postgres_url)
                with app_server(url) as server:
                    first_view(browser, server.url)  # warm the server (caches, connections)
                    loads = [first_view(browser, server.url) for _ in range(options.runs)]
                ours = common.median([load["bytes"] for load in loads])
                last = loads[-1]
                log(f"{n:,}: {ours:,.0f} B in {last['requests']} requests, "
                    f"{last['drawn']} features drawn; largest: "
                    + ", ".join(f"{b / 1000:.0f} KB {u.split('?')[0][-40:]}"
                                for b, u in last["largest"][:3]))
                results.append(common.Result(
                    "map_weight", f"first view of / at {n:,} ({options.backend})", ours,
                    "bytes", "< 1.5 MB", ours < TARGET_BYTES,
                    f"{last['requests']} requests, {last['drawn']} features drawn"))
                if options.skip_folium:
                    continue
                plain = plain_folium(url, n, options.seed, remeasure=options.remeasure_folium)
                total = plain["page_bytes"] + plain["asset_bytes"]
                note = (f"page {plain['page_bytes'] / 1e6:.1f} MB + assets "
                        f"{plain['asset_bytes'] / 1e3:.0f} KB; built in {plain['build_s']:.0f} s"
                        + (" (measured earlier)" if plain.get("cached") else ""))
                results.append(common.Result("map_weight", f"plain folium page at {n:,}",
                                             total, "bytes", "", None, note))
                results.append(common.Result("map_weight", f"plain folium / ours at {n:,}",
                                             total / ours, "x", "", None))
        finally:
            browser.close()
    return results


def argument_parser():
    parser = common.argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--backend", default="postgis", choices=("postgis", "spatialite"))
    parser.add_argument("--skip-folium", action="store_true",
                        help="leave out the plain folium page (minutes and GBs at 170k)")
    parser.add_argument("--remeasure-folium", action="store_true",
                        help="build the plain folium page again instead of reusing the figure")
    return parser


def main() -> None:
    common.report(run(argument_parser().parse_args()))


if __name__ == "__main__":
    main()
