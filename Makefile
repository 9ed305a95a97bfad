# Herald: `make run` starts it, `make test` checks it. Everything else here serves those two.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.herald-synced
UV_VERSION := 0.13.9
# The PostgreSQL server the suite also runs on (this machine's and CI's: trust auth on loopback).
TEST_PG_URL ?= postgres://postgres@127.0.0.1:5432/herald
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: setup run test test-deps lint test-sqlite test-postgres messages clean

setup: $(STAMP)

$(STAMP): pyproject.toml uv.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
	  echo "Cannot create a virtual environment: on Debian/Ubuntu run 'apt-get install python3-venv'"; exit 1; }
	@test -x $(BIN)/uv || { $(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip --upgrade >/dev/null; $(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"; }
	$(BIN)/uv sync --locked --quiet
	@touch $@

run: setup
	$(BIN)/herald run

test: setup test-deps lint test-sqlite test-postgres
	@cat var/test-backends.txt 2>/dev/null || true

# System packages the suite drives for real: Chromium (browser tests), Dovecot (IMAP tests).
test-deps:
	@bash scripts/test-deps.sh

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy herald

test-sqlite: setup
	@mkdir -p var && rm -f var/test-backends.txt
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Every database test again on PostgreSQL whenever a server answers; never skipped silently.
test-postgres: setup
	@if $(BIN)/python scripts/pg_reachable.py "$(TEST_PG_URL)"; then \
	  DATABASE_URL="$(TEST_PG_URL)" $(BIN)/python -m pytest -m "django_db and not browser" $(PYTEST_ARGS); \
	else \
	  echo "database backend: postgresql NOT RUN — no server answers at $(TEST_PG_URL)" | tee -a var/test-backends.txt; \
	fi

messages: setup
	cd herald && export DJANGO_SETTINGS_MODULE=herald.settings && \
	  ../$(BIN)/django-admin makemessages -l en -l fr -l it -l ar --no-obsolete --ignore "static/*" && \
	  ../$(BIN)/django-admin compilemessages

clean:
	rm -rf $(VENV) var/test-*
