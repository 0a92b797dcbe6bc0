"""Benchmark 5: status updates through the JSON API, from parallel clients, on PostGIS.

A production server (gunicorn, gthread workers) serves the app on a fresh copy of a
generated dataset; P client processes, each with its own API token (street officials for
their own street, and admins) and one keep-alive connection, send ``PATCH /api/items/<id>``
changes for a fixed time. Afterwards the database must show that nothing was lost: one
history row per accepted change (and none more), versions consecutive per item, and every
item as its last accepted change left it.

What is measured, and why: a real client knows each item's version from the list page it
works from, and every answer to a change carries the item's new version, so a status update
is one PATCH ("PATCH with known version"): that is the figure held against the target.
"GET then PATCH" reads the item before each change, as a client without a list would; it
needs two requests per update and is reported beside it (``--mode`` picks one or both).
A third series runs with the summary triggers of migration 0004 switched off in the scratch
copy, to show what they cost (``--no-comparison`` skips it). Each series also reports the
CPU time the server, the database and the clients spent per accepted update: on a shared
machine the rate depends on the neighbours, the CPU time much less.

    .venv/bin/python -m bench.status_updates --sizes 10000 --runs 3
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from bench import common, servers

BENCHMARK = "5 status updates"
TARGET_PER_S = 400
GUNICORN_CONF = "python:renovation.gunicorn_conf"


def log(message: str) -> None:
    print(f"[status_updates] {message}", file=sys.stderr, flush=True)


# --- The dataset: tokens and the items each client works on ----------------------------

@dataclass
class Client:
    """One client process: whose token it sends and the items it may change."""

    username: str
    token: str
    items: dict[int, dict] = field(default_factory=dict)  # id -> {version, status, progress}


def prepare_clients(url: str, count: int, rng: random.Random) -> list[Client]:
    """Tokens for `count` clients: officials of the busiest streets and admins, alternating.

    Accounts the dataset lacks are created (``bench-...``). Each client gets the items its
    user may change: an official those of the own street, an admin a random share of all.
    Final (accepted) items still take notes, so every item is fair game.
    """
    from renovation import accounts
    from renovation.db import Database
    from renovation.models import Community, RenovationItem, Role, Street, User

    database = Database(url)
    try:
        with database.session() as session:
            streets = session.execute(
                sa.select(Street.id, Street.code, sa.func.count(RenovationItem.id))
                .join(Community, Community.street_id == Street.id)
                .join(RenovationItem, RenovationItem.community_id == Community.id)
                .group_by(Street.id, Street.code)
                .order_by(sa.func.count(RenovationItem.id).desc(), Street.id)).all()
            rows = session.execute(
                sa.select(RenovationItem.id, RenovationItem.version, RenovationItem.status,
                          RenovationItem.progress_pct, Community.street_id)
                .join(Community, RenovationItem.community_id == Community.id)).all()
            by_street: dict[int, list] = {}
            for row in rows:
                by_street.setdefault(row.street_id, []).append(row)

            def account(username: str, role: Role, street_code: str | None = None) -> User:
                found = session.scalar(sa.select(User).where(User.username == username))
                return found or accounts.create_user(
                    session, username, "bench-password-" + username, role,
                    street_code=street_code)

            clients = []
            for n in range(count):
                if n % 2 == 0 and streets:
                    street = streets[(n // 2) % len(streets)]
                    user = account(f"bench-official-{street.code}", Role.OFFICIAL, street.code)
                    mine = by_street[street.id]
                else:
                    user = account("bench-admin", Role.ADMIN)
                    mine = rng.sample(rows, min(len(rows), 5000))
                client = Client(user.username, accounts.issue_token(session, user, "bench"))
                client.items = {r.id: {"version": r.version, "status": str(r.status),
                                       "progress": r.progress_pct} for r in mine}
                clients.append(client)
            session.commit()
        return clients
    finally:
        database.dispose()


# --- The server ---------------------------------------------------------------------------

def app_server(database_url: str, port: int, workers: int, threads: int):
    """The app as production serves it (renovation.gunicorn_conf) on `database_url`."""
    return servers.gunicorn("server:create_app()", config=GUNICORN_CONF, port=port,
                            workers=workers, threads=threads, ready_path="/api/openapi.json",
                            env={"DATABASE_URL": database_url})


# --- Where the CPU goes -------------------------------------------------------------------
# The machine is shared: the rate a run reaches depends on what else runs. The CPU time each
# side spends per accepted update does much less, and says what two idle cores could carry.

_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of process `pid` so far (0 if it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(n) for n in task.read_text().split()]
    return found


def server_cpu(server: servers.Running) -> float:
    """CPU seconds of gunicorn's master and workers."""
    pids = [server.process.pid, *_children(server.process.pid)]
    return sum(_cpu_seconds(pid) for pid in pids)


def database_cpu(url: str) -> float:
    """CPU seconds of the PostgreSQL backends serving `url`'s database (this machine only)."""
    engine = sa.create_engine(_psycopg(url))
    try:
        with engine.connect() as conn:
            pids = conn.scalars(sa.text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()")).all()
    finally:
        engine.dispose()
    return sum(_cpu_seconds(pid) for pid in pids)


# --- The clients --------------------------------------------------------------------------

def next_change(state: dict, rng: random.Random, note: str) -> dict:
    """A change the item's current state allows: mostly progress, sometimes a status move."""
    from renovation.status import PROGRESS_RANGE, Status
    from renovation.workflow import next_statuses

    status = Status(state["status"])
    body = {"version": state["version"], "note": note}
    moves = [s for s in next_statuses(status) if s is not Status.ACCEPTED]
    low, high = PROGRESS_RANGE[status]
    if moves and rng.random() < 0.2:
        body["status"] = rng.choice(moves).value  # progress follows the status, clamped
    elif high > low:
        body["progress"] = low + (state["progress"] - low + 1 + rng.randrange(high - low)) \
            % (high - low + 1)
    return body


def _send(conn, method: str, path: str, headers: dict, body: bytes | None = None):
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


def client_process(n: int, port: int, client: Client, mode: str, start_at: float,
                   seconds: float, seed: int, results) -> None:
    """Send changes until `seconds` after `start_at`; put what happened on `results`."""
    rng = random.Random(seed * 1000 + n)
    item_ids = list(client.items)
    read_headers = {"Authorization": f"Bearer {client.token}", "Accept": "application/json"}
    write_headers = {**read_headers, "Content-Type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies, statuses, accepted, errors = [], Counter(), [], []
    sequence = 0
    time.sleep(max(0.0, start_at - time.time()))
    stop = start_at + seconds
    try:
        while time.time() < stop:
            item_id = rng.choice(item_ids)
            state = client.items[item_id]
            started = time.perf_counter()
            if mode == "get-patch":
                status, payload = _send(conn, "GET", f"/api/items/{item_id}", read_headers)
                if status != 200:
                    statuses[f"GET {status}"] += 1
                    continue
                item = json.loads(payload)
                state.update(version=item["version"], status=item["status"],
                             progress=item["progress"])
            sequence += 1
            note = f"bench client {n} change {sequence}"
            sent = next_change(state, rng, note)
            status, payload = _send(conn, "PATCH", f"/api/items/{item_id}", write_headers,
                                    json.dumps(sent).encode())
            latencies.append(time.perf_counter() - started)
            statuses[status] += 1
            body = json.loads(payload) if payload.startswith(b"{") else {}
            if status == 200:
                state.update(version=body["version"], status=body["status"],
                             progress=body["progress"])
                accepted.append((item_id, body["change_id"], sent["version"], body["version"],
                                 note))
            elif status == 409:  # someone else changed it: carry on from the current state
                current = body["current"]
                state.update(version=current["version"], status=current["status"],
                             progress=current["progress"])
            elif len(errors) < 5:
                errors.append(f"{status}: {payload[:300]!r}")
    except Exception as error:  # noqa: BLE001 - reported by the parent with the counts
        errors.append(f"client {n}: {error!r}")
    finally:
        conn.close()
    results.put({"latencies": latencies, "statuses": dict(statuses), "accepted": accepted,
                 "errors": errors, "cpu_s": time.process_time()})


def run_clients(port: int, clients: list[Client], mode: str, seconds: float, seed: int) -> dict:
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    start_at = time.time() + 1.0  # every process is up before the clock starts
    processes = [context.Process(target=client_process,
                                 args=(n, port, client, mode, start_at, seconds, seed, results))
                 for n, client in enumerate(clients)]
    for process in processes:
        process.start()
    gathered = [results.get(timeout=seconds + 120) for _ in processes]
    for process in processes:
        process.join(30)
    merged = {"latencies": [], "statuses": Counter(), "accepted": [], "errors": [],
              "cpu_s": sum(part["cpu_s"] for part in gathered)}
    for part in gathered:
        merged["latencies"] += part["latencies"]
        merged["statuses"].update(part["statuses"])
        merged["accepted"] += part["accepted"]
        merged["errors"] += part["errors"]
    return merged


# --- The proof that nothing was lost ------------------------------------------------------

def last_change_id(url: str) -> int:
    engine = sa.create_engine(_psycopg(url))
    try:
        with engine.connect() as conn:
            return conn.scalar(sa.text("SELECT coalesce(max(id), 0) FROM item_changes"))
    finally:
        engine.dispose()


def _psycopg(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def lost_updates(url: str, since_change_id: int, accepted: list) -> list[str]:
    """What the database contradicts of the accepted changes; empty when nothing was lost.

    Checks: the history rows written since `since_change_id` are exactly the accepted
    changes (same ids, items, notes and versions); per item, their versions run on without
    gaps or repeats, each change starting where the previous one ended; and the item is
    now what its last change made it.
    """
    problems = []
    engine = sa.create_engine(_psycopg(url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT id, item_id, note, version_after, status_before, status_after, "
                "progress_before, progress_after FROM item_changes WHERE id > :since "
                "ORDER BY id"), {"since": since_change_id}).all()
            items = {row.id: row for row in conn.execute(sa.text(
                "SELECT id, version, status, progress_pct FROM renovation_items "
                "WHERE id IN (SELECT item_id FROM item_changes WHERE id > :since)"),
                {"since": since_change_id})}
    finally:
        engine.dispose()
    written = {row.id: (row.item_id, row.note, row.version_after) for row in rows}
    answered = {change_id: (item_id, note, version)
                for item_id, change_id, _sent, version, note in accepted}
    if len(answered) != len(accepted):
        problems.append("the same change id was answered twice")
    if written != answered:
        missing = sorted(set(answered) - set(written))[:5]
        extra = sorted(set(written) - set(answered))[:5]
        differing = [i for i in set(written) & set(answered) if written[i] != answered[i]][:5]
        problems.append(f"history differs from the accepted changes: {len(rows)} rows for "
                        f"{len(accepted)} accepted; missing {missing}, unanswered {extra}, "
                        f"differing {differing}")
    by_item: dict[int, list] = {}
    for row in rows:
        by_item.setdefault(row.item_id, []).append(row)
    for item_id, changes in by_item.items():
        versions = [row.version_after for row in changes]
        if versions != list(range(versions[0], versions[0] + len(versions))):
            problems.append(f"item {item_id}: versions not consecutive {versions[:10]}")
        for before, after in zip(changes, changes[1:], strict=False):
            if (after.status_before, after.progress_before) != \
                    (before.status_after, before.progress_after):
                problems.append(f"item {item_id}: change {after.id} does not start where "
                                f"change {before.id} ended")
                break
        item, last = items[item_id], changes[-1]
        if (item.version, item.status, item.progress_pct) != \
                (last.version_after, last.status_after, last.progress_after):
            problems.append(f"item {item_id}: state {item.version}/{item.status}/"
                            f"{item.progress_pct} is not its last change {last.id}")
    return problems[:20]


# --- The summary triggers, off for a comparison ------------------------------------------

def set_summary_triggers(url: str, enabled: bool) -> list[str]:
    """Switch the summary triggers on renovation_items (migration 0004) on or off.

    Only ever on a scratch copy: while they are off the summaries go wrong. Returns their
    names (none before the migration).
    """
    engine = sa.create_engine(_psycopg(url))
    try:
        with engine.begin() as conn:
            names = conn.scalars(sa.text(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'renovation_items'::regclass "
                "AND NOT tgisinternal AND tgname LIKE '%summar%' ORDER BY tgname")).all()
            for name in names:
                conn.execute(sa.text(f'ALTER TABLE renovation_items '
                                     f'{"ENABLE" if enabled else "DISABLE"} TRIGGER "{name}"'))
        return list(names)
    finally:
        engine.dispose()


# --- The benchmark ------------------------------------------------------------------------

def refresh_versions(url: str, clients: list[Client]) -> None:
    """Each client's items as they are now, as its list page would show them."""
    in_play = sorted({item_id for client in clients for item_id in client.items})
    engine = sa.create_engine(_psycopg(url))
    try:
        with engine.connect() as conn:
            now = {row.id: row for row in conn.execute(sa.text(
                "SELECT id, version, status, progress_pct FROM renovation_items "
                "WHERE id = ANY(:ids)"), {"ids": in_play})}
    finally:
        engine.dispose()
    for client in clients:
        for item_id, state in client.items.items():
            row = now[item_id]
            state.update(version=row.version, status=row.status, progress=row.progress_pct)


def one_run(url: str, server: servers.Running, clients: list[Client], mode: str, seconds: float,
            seed: int) -> dict:
    refresh_versions(url, clients)  # the client processes' own copies died with them
    since = last_change_id(url)
    cpu_before = server_cpu(server), database_cpu(url)
    outcome = run_clients(server.port, clients, mode, seconds, seed)
    cpu = {"server": server_cpu(server) - cpu_before[0],
           "database": database_cpu(url) - cpu_before[1], "clients": outcome["cpu_s"]}
    accepted = outcome["accepted"]
    problems = lost_updates(url, since, accepted)
    latencies = sorted(outcome["latencies"])
    figures = {
        "updates_per_s": len(accepted) / seconds,
        "p50_ms": common.percentile(latencies, 50) * 1000 if latencies else float("nan"),
        "p95_ms": common.percentile(latencies, 95) * 1000 if latencies else float("nan"),
        "accepted": len(accepted),
        "statuses": dict(outcome["statuses"]),
        "errors": outcome["errors"],
        "problems": problems,
        "cpu_ms": {side: seconds_ * 1000 / max(1, len(accepted))
                   for side, seconds_ in cpu.items()},
    }
    log(f"  {mode}: {figures['updates_per_s']:.0f} accepted/s, p50 {figures['p50_ms']:.1f} ms,"
        f" p95 {figures['p95_ms']:.1f} ms, answers {figures['statuses']}, CPU ms per update "
        f"{ {k: round(v, 2) for k, v in figures['cpu_ms'].items()} }, "
        f"lost/inconsistent: {len(problems)}" + (f" {problems[:3]}" if problems else "")
        + (f" errors {outcome['errors'][:3]}" if outcome["errors"] else ""))
    return figures


def _dataset(options, size: int) -> tuple[str, callable]:
    """The database to change, and how to clean it up afterwards."""
    if options.database_url:
        return options.database_url, lambda: None
    from bench import datasets

    url = datasets.scratch_copy("postgis", size, seed=options.seed,
                                postgres_url=options.postgres_url)
    return url, lambda: datasets.drop_scratch(url)


def run(options) -> list[Result]:
    # `python -m bench` passes only the options every benchmark shares: add ours.
    options = argparse.Namespace(**{**vars(argument_parser().parse_args([])), **vars(options)})
    results = []
    modes = ["patch", "get-patch"] if options.mode == "both" else [options.mode]
    setup = (f"gunicorn gthread {options.workers}×{options.threads}, "
             f"{options.clients} client processes, {options.seconds:g} s per run")
    for size in options.sizes:
        url, cleanup = _dataset(options, size)
        try:
            clients = prepare_clients(url, options.clients, random.Random(options.seed))
            items = len({i for c in clients for i in c.items})
            port = options.port or servers.free_port()
            log(f"{options.database_url or f'{size} communities'}, {items} items in play; "
                f"{setup}, port {port}")
            series = list(modes)
            triggers = set_summary_triggers(url, enabled=True)
            if triggers and options.compare_without_triggers and not options.database_url:
                series.append("patch without triggers")
            figures: dict[str, list[dict]] = {name: [] for name in series}
            with app_server(url, port, options.workers, options.threads) as server:
                log("warm-up (not counted): every thread connects, statements are prepared")
                warm_up = one_run(url, server, clients, modes[0], 2.0, options.seed - 1)
                if warm_up["problems"]:
                    raise SystemExit(f"updates lost in the warm-up: {warm_up['problems']}")
                for run_number in range(options.runs):
                    for name in series:
                        log(f"run {run_number + 1}/{options.runs}, {name}")
                        if name == "patch without triggers":
                            set_summary_triggers(url, enabled=False)
                        try:
                            figures[name].append(one_run(
                                url, server, clients, name.split()[0], options.seconds,
                                options.seed + run_number))
                        finally:
                            set_summary_triggers(url, enabled=True)
            where = "the given database" if options.database_url else f"{size:,} communities"
            for name in series:
                results += _results(where, name, figures[name], setup,
                                    with_triggers=bool(triggers))
        finally:
            cleanup()
    return results


Result = common.Result


def _results(where: str, mode: str, runs: list[dict], setup: str, *,
             with_triggers: bool) -> list[Result]:
    rate = common.median([r["updates_per_s"] for r in runs])
    lost = sum(len(r["problems"]) for r in runs)
    failed = sum(n for r in runs for code, n in r["statuses"].items()
                 if code not in (200, 409))
    conflicts = sum(r["statuses"].get(409, 0) for r in runs)
    label = {"patch": "PATCH with known version", "get-patch": "GET then PATCH",
             "patch without triggers": "PATCH, summary triggers off (comparison only)"}[mode]
    counted = f"{where}; {label}"
    triggers = ("summary triggers on" if with_triggers and mode != "patch without triggers"
                else "no summary triggers")
    note = (f"{setup}; {triggers}; {sum(r['accepted'] for r in runs)} accepted, "
            f"{conflicts} conflicts (409), {failed} other answers over {len(runs)} runs")
    comparison = mode == "patch without triggers"
    parts = {side: common.median([r["cpu_ms"][side] for r in runs])
             for side in ("server", "database", "clients")}
    cpu_ms = sum(parts.values())
    return [
        Result(BENCHMARK, f"{counted}: accepted updates/s (median)", rate, "/s",
               "" if comparison else f"≥ {TARGET_PER_S}/s",
               None if comparison else rate >= TARGET_PER_S, note),
        Result(BENCHMARK, f"{counted}: PATCH latency p50", common.median(
            [r["p50_ms"] for r in runs]), "ms"),
        Result(BENCHMARK, f"{counted}: PATCH latency p95", common.median(
            [r["p95_ms"] for r in runs]), "ms",
               note="GET + PATCH per update" if mode == "get-patch" else ""),
        Result(BENCHMARK, f"{counted}: CPU per update (server + database + clients)",
               cpu_ms, "ms", note=f"server {parts['server']:.2f}, database "
               f"{parts['database']:.2f}, clients {parts['clients']:.2f} ms; "
               f"{os.cpu_count()} idle cores would carry about "
               f"{os.cpu_count() * 1000 / cpu_ms:,.0f}/s"),
        Result(BENCHMARK, f"{counted}: lost or inconsistent updates", lost, "lost",
               "0", lost == 0 and failed == 0,
               "; ".join(p for r in runs for p in r["problems"])[:200]),
    ]


def argument_parser():
    parser = common.argument_parser(__doc__.splitlines()[0])
    parser.set_defaults(sizes=[170_000])
    parser.add_argument("--mode", choices=["patch", "get-patch", "both"], default="both",
                        help="PATCH with the version the client knows (the measure held "
                             "against the target), GET before each PATCH, or both")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    parser.add_argument("--clients", type=int, default=8, help="client processes")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (gthread)")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--no-comparison", dest="compare_without_triggers",
                        action="store_false",
                        help="skip the comparison runs with the summary triggers switched off")
    parser.add_argument("--database-url", default="",
                        help="change this PostGIS database instead of a scratch copy of the "
                             "generated dataset (for development)")
    return parser


def main() -> None:
    common.report(run(argument_parser().parse_args()))


if __name__ == "__main__":
    main()
