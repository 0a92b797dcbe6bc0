"""Accounts: creating users, checking passwords, API tokens.

Passwords are stored as salted scrypt hashes (werkzeug); API tokens only as
their SHA-256, so neither can be read back from the database.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import NamedTuple

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from renovation.errors import DomainError
from renovation.models import ApiToken, Community, Role, Street, User, utcnow

MIN_PASSWORD_LENGTH = 10
USERNAME = re.compile(r"[A-Za-z0-9_.\-]{3,64}")
TOKEN_PREFIX = "gx_"
# Checked against when the username is unknown, so both paths take the same time.
_DUMMY_HASH = generate_password_hash("not a real password")


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(_l("The password must have at least %(n)d characters.",
                             n=MIN_PASSWORD_LENGTH))
    if len(password) > 200:
        raise DomainError(_l("The password is too long (at most 200 characters)."))


def create_user(session: Session, username: str, password: str, role: Role | str, *,
                display_name: str = "", street_code: str | None = None,
                community_id: int | None = None) -> User:
    """Create an account; an official needs a street, a resident a community."""
    if not USERNAME.fullmatch(username or ""):
        raise DomainError(_l("A username has 3 to 64 letters, digits, '.', '-' or '_'."))
    try:
        role = Role(role)
    except ValueError:
        raise DomainError(_l("Unknown role: %(role)s.", role=role)) from None
    check_password_strength(password)
    if session.scalar(sa.select(User.id).where(User.username == username)) is not None:
        raise DomainError(_l("The username %(name)s is taken.", name=username), status=409)
    street = community = None
    if role is Role.OFFICIAL:
        street = session.scalar(sa.select(Street).where(Street.code == (street_code or "")))
        if street is None:
            raise DomainError(_l("A street official needs an existing street code."))
    if role is Role.RESIDENT:
        community = session.get(Community, community_id) if community_id else None
        if community is None:
            raise DomainError(_l("A resident needs an existing community."))
    user = User(username=username, display_name=display_name or username,
                password_hash=generate_password_hash(password), role=role,
                street=street, community=community)
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this username and password, or None."""
    user = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not user.is_active or not check_password_hash(user.password_hash, password):
        return None
    return user


def change_password(session: Session, user: User, current: str, new: str) -> None:
    """Change `user`'s password; this ends the user's other sessions."""
    if not check_password_hash(user.password_hash, current):
        raise DomainError(_l("The current password is not right."), status=403)
    check_password_strength(new)
    user.password_hash = generate_password_hash(new)
    user.session_epoch += 1
    session.flush()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, name: str = "") -> str:
    """Create an API token for `user` and return it; it is shown this once only."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user=user, token_hash=_digest(token), name=name[:100]))
    session.flush()
    return token


def revoke_tokens(session: Session, user: User) -> int:
    """Revoke every live token of `user`; return how many."""
    tokens = session.scalars(sa.select(ApiToken).where(ApiToken.user_id == user.id,
                                                       ApiToken.revoked_at.is_(None))).all()
    for token in tokens:
        token.revoked_at = utcnow()
    session.flush()
    return len(tokens)


def _live_token_of_active_user(token_hash) -> tuple:
    """The conditions a token must meet, its user joined: not revoked, the user active."""
    return (ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None),
            User.is_active.is_(True))


def user_for_token(session: Session, token: str) -> User | None:
    """The active user a live token belongs to, or None.

    One query (token and user joined): the API's reads and the sessions' API call it for
    every request with a token.
    """
    digest = token_digest(token)
    if digest is None:
        return None
    return session.scalar(sa.select(User).join(ApiToken, ApiToken.user_id == User.id)
                          .where(*_live_token_of_active_user(digest)))


class TokenUser(NamedTuple):
    """What a change through the API needs to know of its author, read without the ORM."""

    id: int
    role: Role
    street_id: int | None
    is_active: bool


def token_digest(token: str) -> str | None:
    """What the database keeps of `token`, or None if it cannot be one of ours."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    return _digest(token)


_TOKEN_USER = (sa.select(User.id, User.role, User.street_id, User.is_active)
               .join(ApiToken, ApiToken.user_id == User.id)
               .where(*_live_token_of_active_user(sa.bindparam("token_hash"))))


def token_user(connection: sa.Connection, token: str) -> TokenUser | None:
    """:func:`user_for_token` as a light tuple: the same query, on a Core connection."""
    digest = token_digest(token)
    if digest is None:
        return None
    row = connection.execute(_TOKEN_USER, {"token_hash": digest}).first()
    return TokenUser(*row) if row is not None else None
