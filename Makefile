# Casebound: `make run` serves the portal with a worker; `make test` runs the whole suite.
# Both set up everything first: virtualenv, dependencies, embedded Postgres + pgvector and Redis,
# migrations and model weights.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SERVICES := $(BIN)/python -m portal.devservices
PYTEST_ARGS ?=

.PHONY: run test lint check-python browser clean-var demo-code

run: $(STAMP)
	$(SERVICES) serve

test: $(STAMP) browser lint
	$(SERVICES) exec -- $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy portal agencies search

check-python:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Casebound needs Python 3.11 (found %s); set PYTHON=python3.11" % sys.version.split()[0]'

$(STAMP): pyproject.toml | check-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# Browser tests drive Debian's Chromium through Playwright (Playwright cannot download its own).
browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	else \
		echo "WARNING: no chromium and not root: browser tests will be skipped (install the chromium package)"; \
	fi

# The current second-factor code of the demo users (they share one TOTP key; development only).
demo-code: $(STAMP)
	@$(BIN)/python manage.py demo_code

clean-var:
	rm -rf var
