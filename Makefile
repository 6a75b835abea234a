# Front door. `make demo` and `make test` work on a fresh clone (Python 3.11+, Node/npm).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
# English messages, compiled from the committed .po (the .mo is not committed).
MO := xunhuan/locale/en/LC_MESSAGES/django.mo
export XUNHUAN_ENV ?= dev

# Demo size: enterprises and years of ledger history (see xunhuan/demo/generator.py).
DEMO_ENTERPRISES ?= 2000
DEMO_YEARS ?= 5
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo run test lint typecheck pytest pytest-sqlite pytest-postgres bench clean setup browser-deps

setup: $(STAMP) $(NPM_STAMP) $(MO)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $@

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# msgfmt is GNU gettext's; installed from Debian when missing and we are root.
$(MO): xunhuan/locale/en/LC_MESSAGES/django.po
	@command -v msgfmt >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext >/dev/null; }
	msgfmt --check -o $@ $<

# Browser tests drive Debian's chromium through Playwright (never a downloaded browser);
# CJK fonts make their screenshots legible. Installed when missing and we are root.
browser-deps:
	@{ command -v chromium >/dev/null 2>&1 && fc-list :lang=zh | grep -q .; } || \
	{ [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; } || \
	echo "chromium or CJK fonts missing and not root: browser tests will be skipped"

# Sets everything up, builds the demo region into var/xunhuan.sqlite3 and serves it.
demo: setup
	$(PY) manage.py migrate --no-input -v0
	$(PY) manage.py registry_load
	$(PY) manage.py demo_load --enterprises $(DEMO_ENTERPRISES) --years $(DEMO_YEARS)
	$(PY) manage.py collectstatic --no-input -v0
	$(PY) manage.py ledger_verify
	@echo "Serving http://$(HOST):$(PORT)/  (API docs: http://$(HOST):$(PORT)/api/docs)"
	@# The job worker (large workbook imports, compliance runs) lives as long as the server.
	$(PY) manage.py jobs_work & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
		$(PY) manage.py runserver --insecure $(HOST):$(PORT)

run: setup
	$(PY) manage.py runserver $(HOST):$(PORT)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: setup
	$(BIN)/mypy xunhuan tests bench

pytest-sqlite: setup
	XUNHUAN_DATABASE_URL= $(BIN)/pytest -n 2 --durations=15

# Runs only when XUNHUAN_DATABASE_URL points at PostgreSQL.
pytest-postgres: setup
	@if [ -n "$$XUNHUAN_DATABASE_URL" ]; then $(BIN)/pytest -n 2 --durations=15; \
	else echo "XUNHUAN_DATABASE_URL not set: PostgreSQL run skipped"; fi

test: lint typecheck browser-deps
	XUNHUAN_DATABASE_URL= $(PY) manage.py makemigrations --check --dry-run
	$(MAKE) pytest-sqlite
	$(MAKE) pytest-postgres

# Every benchmark at its default sizes (long: 10M-row runs; see README for smaller ones).
bench: setup
	$(PY) bench/ingest.py
	$(PY) bench/stats.py
	$(PY) bench/match.py
	$(PY) bench/compliance.py
	$(PY) bench/web.py

clean:
	rm -rf $(VENV) node_modules var .mypy_cache .ruff_cache .hypothesis test-output
