# Casebound: `make run` serves the portal (gunicorn, DEBUG off) with its workers, `make dev` with
# runserver and DEBUG; `make test` runs the whole suite.
# Each sets up everything first: virtualenv, dependencies, embedded Postgres + pgvector and Redis,
# migrations and model weights.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# npm ci rewrites node_modules from the lock file; its own marker file tells make when it last ran.
NODE_STAMP := node_modules/.package-lock.json
SERVICES := $(BIN)/python -m portal.devservices
PYTEST_ARGS ?=

.PHONY: run dev test lint check-python build-deps browser clean-var demo-code

run: $(STAMP) $(NODE_STAMP)
	$(SERVICES) serve

# Django's runserver with DEBUG on (tracebacks in the page): for development on this machine only.
dev: $(STAMP) $(NODE_STAMP)
	$(SERVICES) serve --dev

test: $(STAMP) $(NODE_STAMP) browser lint
	$(SERVICES) exec -- $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy portal agencies search
	$(BIN)/lint-imports

check-python:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Casebound needs Python 3.11 (found %s); set PYTHON=python3.11" % sys.version.split()[0]'

$(STAMP): pyproject.toml | check-python build-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The U.S. Web Design System's compiled CSS, JS, fonts and images, served by Django's staticfiles
# from node_modules (portal/settings/base.py): installed here, never committed, no CDN.
$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "Casebound needs npm (Node.js 18+) to install USWDS: apt-get install npm"; exit 1; }
	npm ci --no-audit --no-fund
	touch $@

# dlib is built from source (pip does it, ~9 minutes once; pip caches the wheel) against OpenBLAS:
# its face network then runs ~5x faster than with dlib's own matrix code, which is all the
# prebuilt dlib-bin wheel has. The build needs CMake, a C++ compiler and OpenBLAS's headers.
build-deps:
	@missing=""; \
	command -v cmake >/dev/null 2>&1 || missing="$$missing cmake"; \
	command -v g++ >/dev/null 2>&1 || missing="$$missing g++"; \
	pkg-config --exists openblas 2>/dev/null || missing="$$missing libopenblas-dev pkg-config"; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Debian's$$missing to build dlib"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else \
		echo "WARNING: missing$$missing: dlib builds without OpenBLAS (~5x slower embeddings) or not at all"; \
	fi

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
