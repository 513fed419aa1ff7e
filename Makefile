# Parley: `make run` starts it, `make test` checks it. Both set themselves up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# `make run` needs requirements.txt only; tests, lint and benchmarks add requirements-dev.txt.
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: install postgres-server chromium run test lint format bench check clean

install: $(DEV_STAMP)

$(STAMP): requirements.txt
	@test -x $(BIN)/python || { echo "parley: creating $(VENV)"; $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "parley: installing requirements.txt into $(VENV) (a minute or two the first time)"
	$(BIN)/python -m pip install -r requirements.txt
	touch $(STAMP)

$(DEV_STAMP): requirements-dev.txt $(STAMP)
	@echo "parley: installing requirements-dev.txt (test, lint and benchmark tools) into $(VENV)"
	$(BIN)/python -m pip install -r requirements-dev.txt
	touch $(DEV_STAMP)

run: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m bot run

# Tests start PostgreSQL servers of their own from initdb and pg_ctl (sandbox/postgres.py);
# Debian keeps those in $(PG_LIB)/NN/bin, off PATH. `make run` does not need them.
PG_LIB ?= /usr/lib/postgresql
APT_GET ?= apt-get

postgres-server:
	@if command -v initdb >/dev/null 2>&1 || ls $(PG_LIB)/*/bin/initdb >/dev/null 2>&1; then exit 0; fi; \
	if [ "$$(id -u)" -eq 0 ]; then sudo=; else sudo=sudo; fi; \
	install="$${sudo:+sudo }env DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y postgresql"; \
	echo "parley: initdb not found on PATH or in $(PG_LIB)/*/bin; running: $$install"; \
	$$install || { \
		echo "parley: retrying after: $${sudo:+sudo }$(APT_GET) update"; \
		$$sudo $(APT_GET) update && $$install; \
	} || { echo "parley: could not install the Debian package postgresql" >&2; exit 1; }

# Page tests drive Debian's Chromium through Playwright (tests/inbox/conftest.py); Playwright's
# own browser download is never used. `make run` does not need it.
CHROMIUM ?= /usr/bin/chromium

chromium:
	@if [ -x $(CHROMIUM) ]; then exit 0; fi; \
	if [ "$$(id -u)" -eq 0 ]; then sudo=; else sudo=sudo; fi; \
	install="$${sudo:+sudo }env DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y chromium"; \
	echo "parley: $(CHROMIUM) not found; running: $$install"; \
	$$install || { \
		echo "parley: retrying after: $${sudo:+sudo }$(APT_GET) update"; \
		$$sudo $(APT_GET) update && $$install; \
	} || { echo "parley: could not install the Debian package chromium" >&2; exit 1; }

test: install postgres-server chromium
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

check: $(STAMP)
	$(BIN)/python -m bot flows check

bench: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache .import_linter_cache
