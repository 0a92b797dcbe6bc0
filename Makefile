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

.PHONY: help run test lint pg-stop reset-db clean

help:
	@echo "make run       set up, then serve the app on http://127.0.0.1:5000 (PORT=8000 make run)"
	@echo "make test      set up, then run the tests (PYTEST_ARGS='-k name' to choose)"
	@echo "make lint      check the code with ruff"
	@echo "make pg-stop   stop and delete the throwaway PostgreSQL the tests may have started"
	@echo "make reset-db  delete the app's database in instance/ (the demo data returns on make run)"
	@echo "make clean     delete the virtual environment and caches"

run: .venv/installed-run
	.ci/debian-packages $(RUN_DEBIAN_PACKAGES)
	.ci/compile-translations
	.venv/bin/flask --app server db upgrade
	.venv/bin/flask --app server demo load --if-empty
	.venv/bin/flask --app server run --host 127.0.0.1 --port $${PORT:-5000}

# The tests find their PostgreSQL and Chromium through these two variables. CI=true, from the
# environment or the command line, reaches pytest too: make passes both on to its commands.
test: .venv/installed-test
	.ci/debian-packages $(RUN_DEBIAN_PACKAGES) $(TEST_DEBIAN_PACKAGES)
	.ci/compile-translations
	GENGXIN_TEST_POSTGRES_URL=$$(.ci/postgres-for-tests) && \
	export GENGXIN_TEST_POSTGRES_URL && \
	export GENGXIN_CHROMIUM=/usr/bin/chromium && \
	.venv/bin/python -m pytest $(PYTEST_ARGS)

lint: .venv/installed-test
	.venv/bin/ruff check geo renovation server.py tests

pg-stop:
	.ci/postgres-for-tests --stop

# Only the database files: instance/ may also hold local configuration worth keeping.
reset-db:
	rm -f instance/*.sqlite instance/*.sqlite-* instance/*.sqlite3 instance/*.sqlite3-* \
	      instance/*.db instance/*.db-*

clean:
	rm -rf .venv .pytest_cache .ruff_cache build *.egg-info
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
