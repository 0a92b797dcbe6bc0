"""gunicorn settings for serving the app in production, on PostgreSQL + PostGIS.

    gunicorn -c python:renovation.gunicorn_conf 'server:create_app()'

``GUNICORN_WORKERS`` and ``GUNICORN_THREADS`` (or ``--workers``/``--threads``) size it; the
defaults suit a 2-core machine. Why these choices:

- gthread workers, one process per core plus one: a change spends much of its time waiting
  for PostgreSQL (round trips, and the commit's flush to disk), and a thread waiting there
  lets another request of the same process run. Unlike sync workers, gthread also keeps
  API clients' connections alive between requests.
- The app is loaded once, before the workers fork (faster, smaller start); each worker then
  gets its own connection pool, sized to its threads so that no request waits for a
  connection, and pinging a connection only when it sat idle for a second or more (see
  :func:`geo.spatialdb.ping_after_idle`): no round trip before each request under load, and
  a connection that died while the server was quiet is replaced before a request uses it.
"""

from __future__ import annotations

import os

worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", 3))
threads = int(os.environ.get("GUNICORN_THREADS", 4))
preload_app = True
keepalive = 30  # seconds: API clients send their next request on the same connection


def post_fork(server, worker):
    """Give the new worker a connection pool of its own, sized to its threads."""
    from renovation.db import Database

    app = worker.app.wsgi()  # the app loaded before the fork
    inherited = app.extensions["gengxin.db"]
    # Connections opened in the parent (none, normally) stay the parent's.
    inherited.engine.dispose(close=False)
    if inherited.url.startswith("sqlite"):
        return
    app.extensions["gengxin.db"] = Database(
        inherited.url, pool_size=worker.cfg.threads, max_overflow=2)
