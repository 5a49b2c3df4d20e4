# The two commands that matter: `make dev` (local stack with demo data) and `make test` (everything CI runs).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.13: on PATH, or under pyenv where the shim alone may not resolve it.
PYTHON ?= $(shell if python3.13 -c 'import sys' >/dev/null 2>&1; then echo python3.13; \
	else ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.13*/bin/python3.13 2>/dev/null | sort -V | tail -n 1; fi)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov lives in a virtualenv of its own (requirements-checkov.txt pins all of it): its dependencies are not ours.
CHECKOV_VENV := $(VENV)/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
export PATH := $(abspath $(BIN)):$(PATH)
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help setup dev test lint typecheck template checkov build deploy pytest pytest-workers pytest-fuzz unit integration contract e2e browser browser-tests bench clean openapi

help:
	@echo "make dev    start the local stack (moto + API + delivery poller) with demo data"
	@echo "make test   lint, type-check, template checks and every test"
	@echo "make bench  performance benchmarks (table + bench/results/*.json)"

$(STAMP): requirements-dev.txt layers/common/requirements.txt constraints.txt pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.13 not found (install it, or pass PYTHON=/path/to/python3.13)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

setup: $(STAMP)

$(CHECKOV_STAMP): requirements-checkov.txt
	@test -n "$(PYTHON)" || { echo "Python 3.13 not found (install it, or pass PYTHON=/path/to/python3.13)"; exit 1; }
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	@touch $@

# The security scan of template.yaml: zero findings, or a skip with its reason in the template (docs/operations.md,
# "Security scan"). tests/unit/test_checkov.py runs the same scan inside `make test` and checks every reason.
checkov: $(CHECKOV_STAMP)
	$(CHECKOV_VENV)/bin/checkov -f template.yaml --framework cloudformation --compact --quiet --skip-download

# make dev ARGS='--param AuthorizerCacheTtl=0 --no-seed'   (PORT / LOCAL_AWS_PORT choose the ports)
dev: $(STAMP)
	$(BIN)/python -m smsdev.dev $(ARGS)

# openapi.json is generated from the handlers' resolvers; tests/unit/test_openapi.py fails when it drifts.
openapi: $(STAMP)
	$(BIN)/python -m smsdev.openapi_doc

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# `sam validate --lint` is cfn-lint run by the SAM CLI (us-east-1's resource specs): one pass, not two.
template: $(STAMP)
	$(BIN)/sam validate --lint --region us-east-1

build: $(STAMP)
	$(BIN)/sam build --region us-east-1 --parallel --cached

# make deploy ENV=dev|prod: the prerequisites first (SAM CLI, region, credentials, the Twilio secret when a provider
# is Twilio: each missing one printed with its fix, and nothing deployed), then sam build and sam deploy with the
# environment of samconfig.toml (docs/deploying.md).
deploy: $(STAMP)
	@test -n "$(ENV)" || { echo "usage: make deploy ENV=dev|prod (samconfig.toml's deploy environments)" >&2; exit 2; }
	$(BIN)/python -m smsdev.deploy check $(ENV)
	$(BIN)/sam build --parallel --cached
	$(BIN)/sam deploy --config-env $(ENV)

# The xdist run and the schemathesis suite run side by side (two processes, each with its own local stacks):
# - loadgroup: each module of tests/e2e and tests/browser is one group, queued first; both workers take them (each
#   starts its own demo stack when it needs one) and the in-process tests fill the rest (tests/conftest.py).
# - schemathesis runs in a process of its own: under xdist its 26 per-route cases were reported as one test and only
#   one route was fuzzed (1 passed, against 26 without -n).
OPENAPI_FUZZ := tests/e2e/test_openapi_fuzz.py
pytest: $(STAMP) $(CHECKOV_STAMP)
	$(MAKE) --no-print-directory -j 2 --output-sync=target pytest-workers pytest-fuzz

# --durations=25: the slowest tests close every run, so the next regression shows.
pytest-workers: $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/pytest -n 2 --dist loadgroup --ignore=$(OPENAPI_FUZZ) --durations=25

pytest-fuzz: $(STAMP)
	$(BIN)/pytest -p no:xdist -p no:cacheprovider $(OPENAPI_FUZZ)

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP)
	$(BIN)/pytest tests/integration

contract: $(STAMP)
	$(BIN)/pytest tests/contract

e2e: $(STAMP)
	$(BIN)/pytest tests/e2e

# Debian's Chromium for the admin UI's browser tests (Playwright drives it; it never downloads a browser).
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ -x "$(CHROMIUM)" ] || command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	elif command -v sudo >/dev/null 2>&1; then sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else echo "Chromium is missing: install Debian's chromium package (apt-get install chromium)"; exit 1; fi

browser-tests: $(STAMP) browser
	$(BIN)/pytest tests/browser

# Two phases, each side by side: the two virtualenvs and Chromium (mostly downloads), then the static checks, the
# SAM build (mostly waiting on pip), the xdist run and the schemathesis suite; each one's output is printed whole
# when it ends, and any failure fails `make test`.
test:
	$(MAKE) --no-print-directory -j 3 $(STAMP) $(CHECKOV_STAMP) browser
	$(MAKE) --no-print-directory -j 6 --output-sync=target lint typecheck template build pytest-workers pytest-fuzz

bench: $(STAMP) browser
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .aws-sam .mypy_cache .ruff_cache .pytest_cache
