"""Command-line tools: ``flask db ...`` for the schema and ``flask demo load`` for demo data."""

from __future__ import annotations

import sys
import time

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from renovation import accounts, demo
from renovation import db as database
from renovation.errors import DomainError
from renovation.models import Role, User

db_cli = AppGroup("db", help="Create and migrate the database schema.")
demo_cli = AppGroup("demo", help="Demo data for Shijingshan.")
users_cli = AppGroup("users", help="Accounts and API tokens.")


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
    click.echo("loaded {streets} streets, {communities} communities, {items} items, "
                   "{users} demo accounts "
               "in {seconds:.1f} s".format(**counts, seconds=time.perf_counter() - started))


def _user(session, username: str) -> User:
    import sqlalchemy as sa

    user = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"no user called {username}")
    return user


@users_cli.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--street", "street_code", help="Street code (officials), e.g. 110107002000.")
@click.option("--community", "community_id", type=int, help="Community id (residents).")
@click.option("--name", "display_name", default="", help="The name shown in the history.")
def create_user(username, role, street_code, community_id, display_name):
    """Create an account. The password comes from a prompt, or a line of standard input."""
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    with _database().session() as session:
        try:
            user = accounts.create_user(session, username, password, role,
                                        display_name=display_name, street_code=street_code,
                                        community_id=community_id)
        except DomainError as error:
            raise click.ClickException(str(error.message)) from None
        session.commit()
        click.echo(f"created {user.username} ({user.role.value})")


@users_cli.command("token")
@click.argument("username")
@click.option("--name", default="", help="What the token is for.")
def token(username, name):
    """Print a new API token for USERNAME (shown this once)."""
    with _database().session() as session:
        value = accounts.issue_token(session, _user(session, username), name)
        session.commit()
    click.echo(value)


@users_cli.command("revoke-tokens")
@click.argument("username")
def revoke(username):
    """Revoke every API token of USERNAME."""
    with _database().session() as session:
        count = accounts.revoke_tokens(session, _user(session, username))
        session.commit()
    click.echo(f"revoked {count} token(s) of {username}")


def init_app(app: Flask) -> None:
    from renovation.exporting import export_command
    from renovation.importing import import_command

    app.cli.add_command(db_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(users_cli)
    for command in (import_command, export_command):
        if command is not None:
            app.cli.add_command(command)
    app.teardown_appcontext(_close)


def _close(exc=None) -> None:
    from renovation.web import close_session

    close_session(exc)
