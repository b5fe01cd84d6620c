# JEEX Plan — every target sets itself up (virtual environment, dependencies) first.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV := python3 -m uv
IDEA ?= A shared grocery list app for families
AUDIENCE ?= busy parents
LANGUAGE ?= en
OUT ?= ./plan
PYTEST_ARGS ?=

.PHONY: help setup browser plan test test-fast lint format typecheck check bench

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

setup:  ## create .venv with the locked dependencies (builds llama.cpp once, ~5 min)
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv || python3 -m pip install --quiet --user uv
	@$(UV) sync --frozen

browser:  ## Debian's chromium for the browser tests (tests/web), when it is missing
	@scripts/install-chromium

plan: setup  ## write the documentation package of $(IDEA) into $(OUT) on the embedded defaults
	@$(UV) run --frozen jeex plan "$(IDEA)" --audience "$(AUDIENCE)" --language $(LANGUAGE) --out $(OUT)

# Our own --basetemp: pytest rotates away the temp folders of older sessions, and the
# embedded servers of a slow test must not lose their folder to a concurrent pytest.
test: setup browser  ## the whole test suite with coverage (uses 127.0.0.1:5432 when it answers, else pgserver)
	@export JEEX_TEST_DATABASE_URL="$${JEEX_TEST_DATABASE_URL:-$$(scripts/test-database-url)}"; \
	echo "test database: $${JEEX_TEST_DATABASE_URL:-embedded pgserver}"; \
	basetemp="$$(mktemp -d -t jeex-pytest-XXXXXX)"; \
	$(UV) run --frozen pytest --basetemp="$$basetemp" --cov=jeex --cov-report=term \
		--cov-report=xml $(PYTEST_ARGS) && \
	$(UV) run --frozen python scripts/coverage_gate.py; \
	status=$$?; rm -rf "$$basetemp"; exit $$status

test-fast: PYTEST_ARGS = -m "not slow"
test-fast: test  ## the suite without the real-model end-to-end tests

lint: setup  ## ruff check and format check
	@$(UV) run --frozen ruff check src tests bench scripts
	@$(UV) run --frozen ruff format --check src tests bench scripts

format: setup  ## apply ruff format and safe fixes
	@$(UV) run --frozen ruff check --fix src tests bench scripts
	@$(UV) run --frozen ruff format src tests bench scripts

typecheck: setup  ## mypy --strict on the package
	@$(UV) run --frozen mypy

check: lint typecheck test  ## everything CI cares about

bench: setup  ## benchmarks; paste the printed tables into docs/benchmarks.md
	@$(UV) run --frozen python bench/pipeline_overhead.py
