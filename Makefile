# Radlab: `make run` (the main job on the embedded default) and `make test` are all a newcomer needs.
SHELL := /bin/bash
PYTHON := .venv/bin/python
PHASE := scripts/phase.sh
export RADLAB_DATA ?= $(abspath ../shared/data)

.PHONY: help setup run test protos check-protos bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

setup:  ## build (or reuse the cached) virtualenv and point .venv at it
	@$(PHASE) setup scripts/venv.sh

run: setup  ## start the embedded stack, run the smoke flow through the SDK, stop
	@$(PHASE) run $(PYTHON) scripts/smoke.py

test: setup  ## lint and freshness of the contracts, then every test suite
	@$(PHASE) check-protos scripts/protos.sh check
	@$(PHASE) pytest $(PYTHON) -m pytest -p no:cacheprovider $(PYTEST_ARGS)

protos: setup  ## regenerate radlab/**/_pb2*.py from protos/
	@scripts/protos.sh generate

check-protos: setup  ## buf lint, and fail if the generated code is stale
	@scripts/protos.sh check

bench: setup  ## benchmarks against the named peers (none yet)
	@$(PHASE) bench $(PYTHON) -m bench

clean:  ## remove local state (.radlab) and the .venv link; the cache stays
	rm -rf .radlab .venv
