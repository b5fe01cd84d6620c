# JEEX Plan — every target sets itself up (virtual environment, dependencies) first.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV := python3 -m uv
IDEA ?= A shared grocery list app for families
AUDIENCE ?= busy parents
LANGUAGE ?= en
OUT ?= ./plan
PYTEST_ARGS ?=
# pytest-xdist workers: each has its own database cloned from one migrated template.
TEST_WORKERS ?= 2

.PHONY: help setup browser deploy-tools plan test test-fast lint format typecheck check bench deploy-test

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

setup:  ## create .venv with the locked dependencies (builds llama.cpp once, ~5 min)
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv || python3 -m pip install --quiet --user uv
	@$(UV) sync --frozen

browser:  ## Debian's chromium for the browser tests (tests/web), when it is missing
	@scripts/install-chromium

deploy-tools:  ## docker-compose and tools/ (kustomize, KEDA schemas) for the deploy checks (tests/deploy)
	@scripts/install-deploy-tools

plan: setup  ## write the documentation package of $(IDEA) into $(OUT) on the embedded defaults
	@$(UV) run --frozen jeex plan "$(IDEA)" --audience "$(AUDIENCE)" --language $(LANGUAGE) --out $(OUT)

# Our own --basetemp: pytest rotates away the temp folders of older sessions, and the
# embedded servers of a slow test must not lose their folder to a concurrent pytest.
# Lint and types first: a lint or type error fails `make test` before any test runs.
# Two xdist workers on two cores: the suite waits on servers and subprocesses a good part
# of the time, and the real-model tests share one worker (xdist_group) so that only one
# llama.cpp server runs at a time.
test: setup browser deploy-tools  ## lint, types, then the whole suite with coverage (uses 127.0.0.1:5432 when it answers, else pgserver)
	@started=$$(date +%s); \
	$(UV) run --frozen ruff check src tests bench scripts && \
	$(UV) run --frozen ruff format --check src tests bench scripts && \
	$(UV) run --frozen lint-imports && \
	$(UV) run --frozen mypy && { \
	export JEEX_TEST_DATABASE_URL="$${JEEX_TEST_DATABASE_URL:-$$(scripts/test-database-url)}"; \
	echo "test database: $${JEEX_TEST_DATABASE_URL:-embedded pgserver}"; \
	basetemp="$$(mktemp -d -t jeex-pytest-XXXXXX)"; \
	pytest_started=$$(date +%s); \
	$(UV) run --frozen pytest --basetemp="$$basetemp" -n $(TEST_WORKERS) --dist loadgroup \
		--cov=jeex --cov-report=term --cov-report=xml --durations=30 $(PYTEST_ARGS); \
	status=$$?; pytest_ended=$$(date +%s); \
	[ $$status -ne 0 ] || $(UV) run --frozen python scripts/coverage_gate.py || status=$$?; \
	rm -rf "$$basetemp"; \
	ended=$$(date +%s); \
	printf 'suite wall time: pytest %dm%02ds, make test %dm%02ds (lint and types included)\n' \
		$$(( (pytest_ended - pytest_started) / 60 )) $$(( (pytest_ended - pytest_started) % 60 )) \
		$$(( (ended - started) / 60 )) $$(( (ended - started) % 60 )); \
	exit $$status; }

test-fast: PYTEST_ARGS = -m "not slow"
test-fast: test  ## the suite without the real-model end-to-end tests

lint: setup  ## ruff check and format check, and the import layers (import-linter)
	@$(UV) run --frozen ruff check src tests bench scripts
	@$(UV) run --frozen ruff format --check src tests bench scripts
	@$(UV) run --frozen lint-imports

format: setup  ## apply ruff format and safe fixes
	@$(UV) run --frozen ruff check --fix src tests bench scripts
	@$(UV) run --frozen ruff format src tests bench scripts

typecheck: setup  ## mypy --strict on the package
	@$(UV) run --frozen mypy

check: test  ## everything CI cares about (`make test` lints and type-checks first)

bench: setup  ## benchmarks; paste the printed tables into docs/benchmarks.md
	@$(UV) run --frozen python bench/pipeline_overhead.py

deploy-test: setup  ## build the image, run the compose stack, a plan, a worker kill and Prometheus (needs docker; not in `make test`)
	@$(UV) run --frozen python scripts/deploy_test.py
