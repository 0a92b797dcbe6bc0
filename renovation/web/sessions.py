"""Open-space sessions (开放空间讨论会): sessions, comments, moderation and ratings pages."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("sessions", __name__)
