"""Languages: Chinese by default, English on request, remembered in a cookie."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, has_request_context, request
from flask_babel import Babel, get_locale

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
COOKIE = "lang"


def select_locale() -> str:
    if not has_request_context():  # the CLI: messages in the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    languages = current_app.config["LANGUAGES"]
    asked = request.args.get("lang") or request.cookies.get(COOKIE)
    if asked in languages:
        return asked
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def locale_code() -> str:
    """The current locale as a short code: 'zh' or 'en'."""
    return str(get_locale() or "zh").split("_")[0]


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    Babel(app, locale_selector=select_locale)

    @app.context_processor
    def language():
        return {"lang": locale_code(), "languages": app.config["LANGUAGES"]}
