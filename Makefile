# The README's two commands, `make run` and `make test`, set up everything they need on a
# fresh Debian 12: Debian packages, the virtual environment, translations and, for the tests,
# a PostgreSQL server with PostGIS. The scripts doing the work live in .ci/.
#
# A second `make run` only checks: Debian packages are looked up with dpkg, and pip runs again
# only when setup.cfg or pyproject.toml has changed since the last install.

# Debian packages: SpatiaLite for the app's SQLite database; for the tests, a PostgreSQL 15
# with PostGIS 3, the Chromium the browser tests drive, and a CJK font so that screenshots
# show Chinese text instead of boxes.
RUN_DEBIAN_PACKAGES = libsqlite3-mod-spatialite
TEST_DEBIAN_PACKAGES = postgresql-15 postgresql-15-postgis-3 chromium fonts-wqy-zenhei

# Extra arguments for pytest, e.g. make test PYTEST_ARGS="-k workflow -x"
PYTEST_ARGS ?=

.PHONY: help run test bench lint translations pg-stop reset-db clean

help:
	@echo "make run       set up, then serve the app on http://127.0.0.1:5000 (PORT=8000 make run)"
	@echo "make test      set up, then run the tests (PYTEST_ARGS='-k name' to choose)"
	@echo "make bench     set up, then run every benchmark of bench/ and print the table"
	@echo "               (BENCH_ARGS='--sizes 1000 --only dashboard' to choose)"
	@echo "make lint      check the code with ruff"
	@echo "make translations  extract the strings to translate, add the new ones to every .po"
	@echo "make pg-stop   stop and delete the throwaway PostgreSQL the tests may have started"
	@echo "make reset-db  delete the app's database in instance/ (the demo data returns on make run)"
	@echo "make clean     delete the virtual environment and caches"

run: .venv/installed-run
	.ci/debian-packages $(RUN_DEBIAN_PACKAGES)
	.ci/compile-translations
	.venv/bin/flask --app server db upgrade
	.venv/bin/flask --app server demo load --if-empty
	.venv/bin/flask --app server run --host $${HOST:-127.0.0.1} --port $${PORT:-5000}

# The tests find their PostgreSQL and Chromium through these two variables. CI=true, from the
# environment or the command line, reaches pytest too: make passes both on to its commands.
test: .venv/installed-test
	.ci/debian-packages $(RUN_DEBIAN_PACKAGES) $(TEST_DEBIAN_PACKAGES)
	.ci/compile-translations
	GENGXIN_TEST_POSTGRES_URL=$$(.ci/postgres-for-tests) && \
	export GENGXIN_TEST_POSTGRES_URL && \
	export GENGXIN_CHROMIUM=/usr/bin/chromium && \
	.venv/bin/python -m pytest $(PYTEST_ARGS)

# The benchmarks of bench/ (see bench/README.md): they build their datasets on the same
# PostgreSQL the tests use, under databases named bench_*, and cache them for the next run.
BENCH_ARGS ?=

bench: .venv/installed-test
	.ci/debian-packages $(RUN_DEBIAN_PACKAGES) $(TEST_DEBIAN_PACKAGES)
	.ci/compile-translations
	GENGXIN_BENCH_POSTGRES_URL=$$(.ci/postgres-for-tests) && \
	export GENGXIN_BENCH_POSTGRES_URL && \
	export GENGXIN_CHROMIUM=/usr/bin/chromium && \
	.venv/bin/python -m bench $(BENCH_ARGS)

lint: .venv/installed-test
	.venv/bin/ruff check geo renovation server.py tests bench

# The UI's strings are English msgids in the code and templates; each language has its catalogue
# in renovation/translations/<lang>/LC_MESSAGES/messages.po. This extracts the msgids into
# messages.pot, then brings every .po in line with it: new msgids arrive with an empty msgstr
# (no fuzzy guesses), removed ones are dropped. Fill in the new msgstrs in zh, then commit;
# tests/test_translations.py fails while a msgid has no Chinese. The .pot is only replaced
# when more than its creation date has changed, and the .po files keep theirs, so running
# this with nothing new leaves git clean. The keywords here and in the test must agree.
PYBABEL ?= .venv/bin/pybabel
PYTHON ?= .venv/bin/python
TRANSLATIONS = renovation/translations
define UNTRANSLATED
import sys
from babel.messages.pofile import read_po
with open(sys.argv[1], "rb") as po:
    todo = [m.id for m in read_po(po) if m.id and (not m.string or m.fuzzy)]
print(f"{sys.argv[1]}: {len(todo)} msgid(s) to translate", *todo, sep="\n  ")
endef
export UNTRANSLATED

translations: .venv/installed-run
	$(PYBABEL) --quiet extract --mapping-file=$(TRANSLATIONS)/babel.cfg \
	    --keywords=_l --keywords=lazy_gettext \
	    --project=gengxin --version="$$(sed -n 's/^version *= *//p' setup.cfg)" \
	    --copyright-holder="the gengxin contributors" \
	    --no-location --sort-output --width=100 --output-file=$(TRANSLATIONS)/messages.pot.new .
	@if [ -f $(TRANSLATIONS)/messages.pot ] && \
	    [ "$$(grep -v '^"POT-Creation-Date:' $(TRANSLATIONS)/messages.pot)" = \
	      "$$(grep -v '^"POT-Creation-Date:' $(TRANSLATIONS)/messages.pot.new)" ]; then \
	    rm $(TRANSLATIONS)/messages.pot.new; \
	else \
	    mv $(TRANSLATIONS)/messages.pot.new $(TRANSLATIONS)/messages.pot; \
	fi
	$(PYBABEL) --quiet update --input-file=$(TRANSLATIONS)/messages.pot \
	    --output-dir=$(TRANSLATIONS) --no-fuzzy-matching --ignore-obsolete --width=100 \
	    --ignore-pot-creation-date
	@$(PYTHON) -c "$$UNTRANSLATED" $(TRANSLATIONS)/zh/LC_MESSAGES/messages.po

pg-stop:
	.ci/postgres-for-tests --stop

# Only the database files: instance/ may also hold local configuration worth keeping.
reset-db:
	rm -f instance/*.sqlite instance/*.sqlite-* instance/*.sqlite3 instance/*.sqlite3-* \
	      instance/*.db instance/*.db-*

clean:
	rm -rf .venv .pytest_cache .ruff_cache build *.egg-info bench/.venv-pygeoapi
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# Each stamp file records that pip has installed what the package metadata asked for; make
# compares its time with setup.cfg and pyproject.toml to know when to install again. `run` and
# `test` keep separate stamps because they install different extras.
.venv/installed-run: setup.cfg pyproject.toml .venv/bin/python
	.venv/bin/python -m pip install --editable .
	touch $@

.venv/installed-test: setup.cfg pyproject.toml .venv/bin/python
	.venv/bin/python -m pip install --editable '.[postgis,dev]'
	touch $@

.venv/bin/python:
	.ci/make-venv .venv
