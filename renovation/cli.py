"""Command-line tools: ``flask db ...`` for the schema and ``flask demo load`` for demo data."""

from __future__ import annotations

import time

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from renovation import db as database
from renovation import demo

db_cli = AppGroup("db", help="Create and migrate the database schema.")
demo_cli = AppGroup("demo", help="Demo data for Shijingshan.")


def _database() -> database.Database:
    return current_app.extensions["gengxin.db"]


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    database.migrate(_database().engine, revision)
    click.echo(f"database at {revision}: {_database().engine.url.render_as_string()}")


@db_cli.command("downgrade")
@click.argument("revision")
def downgrade(revision: str) -> None:
    """Undo migrations down to REVISION ('base' removes every table)."""
    database.downgrade(_database().engine, revision)
    click.echo(f"database at {revision}")


@db_cli.command("current")
def current() -> None:
    """Say whether the schema is up to date."""
    up_to_date = database.is_up_to_date(_database().engine)
    click.echo("up to date" if up_to_date else "migrations pending: run 'flask db upgrade'")


@demo_cli.command("load")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database holds data.")
@click.option("--seed", default=demo.DEMO_SEED, show_default=True, type=int)
def load(if_empty: bool, seed: int) -> None:
    """Load the Shijingshan demo: real streets and names, generated footprints and items."""
    with _database().session() as session:
        if not demo.is_empty(session):
            if if_empty:
                click.echo("database already holds data; demo not loaded")
                return
            raise click.ClickException("the database already holds data")
        started = time.perf_counter()
        data = demo.generate_demo(seed)
        counts = demo.load_demo(session, data)
        session.commit()
    click.echo("loaded {streets} streets, {communities} communities, {items} items "
               "in {seconds:.1f} s".format(**counts, seconds=time.perf_counter() - started))


def init_app(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(demo_cli)
    app.teardown_appcontext(_close)


def _close(exc=None) -> None:
    from renovation.web import close_session

    close_session(exc)
