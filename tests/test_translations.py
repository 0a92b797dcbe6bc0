"""The message catalogues: every English string the UI shows has its Chinese, and they compile.

The msgids are extracted here from the code and templates as they are now, with the mapping
`make translations` uses, so a string added without its translation fails this test (not the
catalogue being out of date: `make translations` is only how the msgstr gets a place to go).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages import frontend
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from flask import Flask
from flask_babel import gettext

from renovation import config, i18n

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "renovation" / "translations"
MAPPING = TRANSLATIONS / "babel.cfg"
#: What `make translations` passes to pybabel extract with --keywords, besides babel's defaults.
EXTRA_KEYWORDS = ("_l", "lazy_gettext")
#: A named printf placeholder: %(name)s, %(n)d, %(area).1f ...
PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")
LANGUAGES = config.defaults("")["LANGUAGES"]


def _po_path(lang: str) -> Path:
    return TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"


def _read_catalogue(lang: str) -> Catalog:
    with _po_path(lang).open("rb") as po:
        return read_po(po, locale=lang, abort_invalid=True)


def _source_messages() -> dict[tuple[str | None, str | tuple[str, ...]], list[str]]:
    """Every msgid in the code and templates, keyed by (context, msgid), with where it is."""
    # parse_mapping_cfg is Babel >= 2.15's name; parse_mapping, before, now warns.
    parse = getattr(frontend, "parse_mapping_cfg", None) or frontend.parse_mapping
    with MAPPING.open(encoding="utf-8") as cfg:
        method_map, options_map = parse(cfg, str(MAPPING))
    keywords = dict(DEFAULT_KEYWORDS)
    keywords.update(dict.fromkeys(EXTRA_KEYWORDS))
    found: dict = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
            ROOT, method_map, options_map, keywords=keywords):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault((context, message), []).append(f"{filename}:{lineno}")
    return found


def _singular(msgid: str | tuple[str, ...]) -> str:
    return msgid[0] if isinstance(msgid, tuple) else msgid


def _strings(message: Message) -> tuple[str, ...]:
    string = message.string
    return tuple(string) if isinstance(string, (list, tuple)) else (string,)


@pytest.fixture(scope="module")
def source() -> dict:
    found = _source_messages()
    assert found, f"no msgids extracted with {MAPPING}: is the mapping right?"
    return found


@pytest.fixture(scope="module")
def zh() -> Catalog:
    return _read_catalogue("zh")


def test_the_mapping_reaches_python_and_templates(source):
    places = {where.split(":")[0] for wheres in source.values() for where in wheres}
    assert any(p.startswith("renovation/") and p.endswith(".py") for p in places), places
    assert any(p.startswith("templates/") and p.endswith(".html") for p in places), places


def test_every_msgid_has_a_chinese_translation(source, zh):
    missing = []
    for (context, msgid), wheres in sorted(source.items(), key=lambda kv: str(kv[0])):
        message = zh.get(_singular(msgid), context=context)
        if message is None:
            problem = "not in the catalogue"
        elif message.fuzzy:
            problem = "fuzzy"
        elif not all(s.strip() for s in _strings(message)):
            problem = "empty msgstr"
        else:
            continue
        missing.append(f"  {_singular(msgid)!r} ({problem}; {', '.join(wheres)})")
    if missing:
        pytest.fail(f"{len(missing)} msgid(s) without Chinese in "
                    f"{_po_path('zh').relative_to(ROOT)}; run `make translations`, fill in "
                    "their msgstr and commit:\n" + "\n".join(missing), pytrace=False)


def test_placeholders_match(zh):
    wrong = []
    for message in zh:
        if not message.id:
            continue
        wanted = set()
        for msgid in (message.id if isinstance(message.id, tuple) else (message.id,)):
            wanted |= set(PLACEHOLDER.findall(msgid))
        for string in _strings(message):
            if string and set(PLACEHOLDER.findall(string)) != wanted:
                wrong.append(f"  {_singular(message.id)!r}\n    -> {string!r}")
    if wrong:
        pytest.fail("msgstr whose %(name)s placeholders differ from their msgid's:\n"
                    + "\n".join(wrong), pytrace=False)


class _AnyValue(dict):
    """Formats any %(name)s: stands in for the variables a string is given."""

    def __missing__(self, key):
        return 1


def test_formatted_strings_are_valid_format_strings(source, zh):
    """Jinja formats every _() of a template, even one without variables (`% {}`), and gettext
    formats a string given variables: a literal % there must be written %%, or the page fails
    with "ValueError: incomplete format"."""
    bad = []
    for (context, msgid), wheres in source.items():
        msgids = msgid if isinstance(msgid, tuple) else (msgid,)
        in_template = any(where.startswith("templates/") for where in wheres)
        if not in_template and not any(PLACEHOLDER.search(m) for m in msgids):
            continue
        message = zh.get(_singular(msgid), context=context)
        texts = [("msgid", m) for m in msgids]
        texts += [("zh msgstr", s) for s in (_strings(message) if message else ()) if s]
        for what, text in texts:
            try:
                text % _AnyValue()
            except (TypeError, ValueError) as error:
                bad.append(f"  {what} {text!r} ({', '.join(wheres)}): {error}")
    if bad:
        pytest.fail("strings that fail when formatted; write a literal % as %%:\n"
                    + "\n".join(bad), pytrace=False)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalogue_compiles_and_loads(lang, tmp_path):
    catalogue = _read_catalogue(lang)
    # pybabel compile skips a catalogue whose header is fuzzy: the app would fall back to English.
    assert not catalogue.fuzzy, f"{_po_path(lang)}: the header is marked fuzzy"
    errors = [f"  {_singular(message.id)!r}: {error}"
              for message, message_errors in catalogue.check() for error in message_errors]
    assert not errors, f"{_po_path(lang)}:\n" + "\n".join(errors)

    compiled = tmp_path / lang / "LC_MESSAGES" / "messages.mo"
    compiled.parent.mkdir(parents=True)
    with compiled.open("wb") as mo:
        write_mo(mo, catalogue)
    translations = Translations.load(str(tmp_path), [lang])
    assert isinstance(translations, Translations), f"{compiled} did not load"
    for message in catalogue:
        if message.id and not message.pluralizable and message.string:
            assert translations.gettext(message.id) == message.string


def test_the_app_speaks_chinese_by_default_and_english_on_request(tmp_path):
    """The compiled catalogues, where Flask-Babel looks for them under the locale the app picks."""
    for lang in LANGUAGES:
        compiled = tmp_path / lang / "LC_MESSAGES" / "messages.mo"
        compiled.parent.mkdir(parents=True)
        with compiled.open("wb") as mo:
            write_mo(mo, _read_catalogue(lang))
    app = Flask(__name__)
    app.config.update(config.defaults(str(tmp_path)))
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(tmp_path)
    i18n.init_app(app)
    chinese = _read_catalogue("zh").get("Shijingshan District").string
    assert chinese, "no Chinese for 'Shijingshan District'"
    with app.test_request_context("/"):
        assert gettext("Shijingshan District") == chinese
    with app.test_request_context("/?lang=en"):
        assert gettext("Shijingshan District") == "Shijingshan District"
