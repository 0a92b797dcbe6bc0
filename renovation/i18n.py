"""Languages: Chinese by default, English on request, remembered in a cookie."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel import Locale
from flask import Flask, current_app, has_request_context, request
from flask_babel import Babel, get_locale
from flask_babel import gettext as _

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
COOKIE = "lang"


@cache
def _parsed(code: str) -> Locale:
    return Locale.parse(code)


def select_locale() -> Locale:
    """The request's language; parsed once per process (Flask-Babel parses what it gets
    again on every request, which the API's busiest calls would pay for)."""
    if not has_request_context():  # the CLI: messages in the default language
        return _parsed(current_app.config["BABEL_DEFAULT_LOCALE"])
    languages = current_app.config["LANGUAGES"]
    asked = request.args.get("lang") or request.cookies.get(COOKIE)
    if asked in languages:
        return _parsed(asked)
    return _parsed(current_app.config["BABEL_DEFAULT_LOCALE"])


def locale_code() -> str:
    """The current locale as a short code: 'zh' or 'en'."""
    return str(get_locale() or "zh").split("_")[0]


def programme_name() -> str:
    """The programme's name in the current language, from PROGRAMME_NAME (Chinese) and
    PROGRAMME_NAME_EN: one programme may span a district, a city or the country, so the
    pages cannot name Shijingshan, the demo's district, which is what they say by default."""
    config = current_app.config
    chinese, english = config.get("PROGRAMME_NAME"), config.get("PROGRAMME_NAME_EN")
    if not (chinese or english):
        return _("Shijingshan District")
    if locale_code() == "en":
        return english or chinese
    return chinese or english


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    Babel(app, locale_selector=select_locale)

    @app.context_processor
    def language():
        return {"lang": locale_code(), "languages": app.config["LANGUAGES"],
                "programme_name": programme_name}
