"""Many officials editing the same items at once through the JSON API of a live server.

Eight clients, each on its own connection and thread, run 25 rounds against three items
under construction: read an item, wait for everyone to have read (a barrier, so the edits
really collide), then send a change based on the version read. Each change carries a note
naming its client and round, so the database can tell which requests it accepted.

The proof: no 5xx; every answer is 200 or 409; every 200 has exactly one history row and
every history row a 200; versions in the history run on without gaps or repeats; each
accepted change starts from the state the previous one left (nothing was overwritten
unseen); the item ends as the last accepted change left it.

They run against the test server (threads in one process) and against the production
setting: gunicorn with :mod:`renovation.gunicorn_conf` (processes forked from a preloaded
app, a connection pool of their own each), on PostgreSQL, the database it is meant for.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from factories import make_community, make_item
from renovation import accounts
from renovation.models import ItemChange, RenovationItem, Street, User
from renovation.status import PROGRESS_RANGE, Status

CLIENTS, ROUNDS, ITEMS = 8, 25, 3
LAOSHAN = "110107002000"
START_PROGRESS = 10
LOW, HIGH = PROGRESS_RANGE[Status.CONSTRUCTION]


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def gunicorn_server(backend, db_url, tmp_path):
    """The app under gunicorn with the production settings, on a free port; yields its URL.

    Only on PostGIS (a test using it pins `backend`): a production server is set up there.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    environment = {**os.environ, "DATABASE_URL": db_url, "SECRET_KEY": "test-secret",
                   "GUNICORN_WORKERS": "2", "GUNICORN_THREADS": "4"}
    log = (tmp_path / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "--config",
         "python:renovation.gunicorn_conf", "--bind", f"127.0.0.1:{port}", "server:create_app()"],
        cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "gunicorn did not answer within 90 s"
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                conn.request("GET", "/api/openapi.json")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
            finally:
                conn.close()
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def contested(app_session):
    """Three items under construction in 老山街道, and a token per client.

    Clients alternate between the street's official and the admin, each with a token of
    its own, so that the history's authors can be checked too.
    """
    street = app_session.scalar(sa.select(Street).where(Street.code == LAOSHAN))
    community = make_community(app_session, street)
    items = [make_item(app_session, community, status=Status.CONSTRUCTION,
                       progress_pct=START_PROGRESS, title=f"{n}号楼加装电梯")
             for n in range(1, ITEMS + 1)]
    clients = []
    for n in range(CLIENTS):
        username = "official-laoshan" if n % 2 == 0 else "admin"
        who = app_session.scalar(sa.select(User).where(User.username == username))
        clients.append((username, accounts.issue_token(app_session, who, f"client {n}")))
    app_session.commit()
    return [item.id for item in items], clients


def _request(conn: http.client.HTTPConnection, method: str, path: str, token: str,
             body: dict | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=headers)
    response = conn.getresponse()
    payload = response.read()
    try:
        return response.status, json.loads(payload)
    except ValueError:
        return response.status, {"unreadable": payload[:300].decode("utf-8", "replace")}


def _run_clients(base_url: str, item_ids: list[int], clients: list[tuple[str, str]]):
    """Run the rounds; return (reads, edits, failures in the client threads)."""
    parts = urlsplit(base_url)
    barrier = threading.Barrier(CLIENTS, timeout=60)
    reads, edits, failures = [], [], []

    def client(n: int) -> None:
        rng = random.Random(n)
        username, token = clients[n]
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        try:
            for round_ in range(ROUNDS):
                item_id = rng.choice(item_ids)
                status, item = _request(conn, "GET", f"/api/items/{item_id}", token)
                reads.append(status)
                barrier.wait()  # everyone has read: now the edits collide
                if status != 200:
                    continue
                # A progress unlike the one read, so that every accepted edit is a real move.
                progress = LOW + (item["progress"] - LOW + 1 + rng.randrange(HIGH - LOW)) \
                    % (HIGH - LOW + 1)
                sent = {"version": item["version"], "progress": progress,
                        "note": f"client {n} round {round_}"}
                status, body = _request(conn, "PATCH", f"/api/items/{item_id}?lang=en", token,
                                        sent)
                edits.append({"item_id": item_id, "username": username, "sent": sent,
                              "status": status, "body": body})
        except Exception as error:  # noqa: BLE001 - reported by the test, with the others
            failures.append(f"client {n}: {error!r}")
            barrier.abort()
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads), "a client hangs"
    return reads, edits, failures


def test_concurrent_edits_lose_nothing_and_record_each_accepted_edit_once(
        live_server, app_session, contested):
    _check_concurrent_edits(live_server, app_session, contested)


@pytest.mark.parametrize("backend", ["postgis"])
def test_concurrent_edits_under_gunicorn_lose_nothing(gunicorn_server, app_session, contested):
    _check_concurrent_edits(gunicorn_server, app_session, contested)


def _check_concurrent_edits(base_url, app_session, contested):
    item_ids, clients = contested
    started = time.monotonic()
    reads, edits, failures = _run_clients(base_url, item_ids, clients)
    elapsed = time.monotonic() - started

    assert not failures, failures
    assert Counter(reads) == {200: CLIENTS * ROUNDS}
    statuses = Counter(edit["status"] for edit in edits)
    assert set(statuses) <= {200, 409}, f"answers other than 200 and 409: {statuses}"
    accepted = [edit for edit in edits if edit["status"] == 200]
    refused = [edit for edit in edits if edit["status"] == 409]
    # All reads of a round come before its edits, and all its edits before the next round's
    # reads end: per item and round at most one edit can hold the current version. And the
    # client whose edit was accepted last in a round reads after every change of that round,
    # so each round has an edit holding the current version: at least one is accepted.
    assert ROUNDS <= len(accepted) <= ROUNDS * ITEMS, statuses
    assert len(refused) >= ROUNDS * (CLIENTS - ITEMS), statuses

    for edit in accepted:
        body, sent = edit["body"], edit["sent"]
        assert (body["version"], body["progress"]) == (sent["version"] + 1, sent["progress"])
        assert body["status"] == "construction" and body["id"] == edit["item_id"]
    for edit in refused:
        error, current = edit["body"]["error"], edit["body"]["current"]
        # Stale when read ("your version 3, now 4"), or overtaken between read and write.
        assert error["status"] == 409 and "try again" in error["message"]
        assert current["id"] == edit["item_id"]
        assert current["version"] > edit["sent"]["version"]

    app_session.expire_all()
    for item_id in item_ids:
        item = app_session.get(RenovationItem, item_id)
        rows = app_session.execute(
            sa.select(ItemChange.id, ItemChange.version_after, ItemChange.progress_before,
                      ItemChange.progress_after, ItemChange.note, ItemChange.source,
                      User.username)
            .join(User, ItemChange.user).where(ItemChange.item_id == item_id)
            .order_by(ItemChange.id)).all()
        mine = [edit for edit in accepted if edit["item_id"] == item_id]

        # Accepted edits = history rows, one for one, with what each request sent.
        assert len(rows) == len(mine)
        assert {(r.id, r.note, r.progress_after, r.version_after, r.username) for r in rows} == {
            (e["body"]["change_id"], e["sent"]["note"], e["sent"]["progress"],
             e["body"]["version"], e["username"]) for e in mine}
        assert {r.source for r in rows} <= {"api"}

        # Versions run on from 1 without gaps or repeats, in the order of the rows; each
        # change starts from the progress the one before left.
        assert [r.version_after for r in rows] == list(range(2, 2 + len(rows)))
        assert [r.progress_before for r in rows] == \
            [START_PROGRESS] + [r.progress_after for r in rows[:-1]]

        # The item is what the last accepted edit made it.
        assert item.version == 1 + len(rows)
        last = rows[-1] if rows else None
        assert item.progress_pct == (last.progress_after if last else START_PROGRESS)
        assert item.status is Status.CONSTRUCTION

    assert sum(1 for _ in accepted) + len(refused) == CLIENTS * ROUNDS
    assert elapsed < 60, f"the clients took {elapsed:.0f} s"
