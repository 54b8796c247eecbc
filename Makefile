# Radlab: `make run` (the main job on the embedded default) and `make test` are all a newcomer needs.
SHELL := /bin/bash
PYTHON := .venv/bin/python
PHASE := scripts/phase.sh
export RADLAB_DATA ?= $(abspath data)

.PHONY: help setup run test infra-up infra-down protos check-protos rules bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

setup:  ## build (or reuse the cached) virtualenv and web viewer, and point .venv and viewer/dist at them
	@$(PHASE) setup scripts/venv.sh
	@$(PHASE) viewer scripts/viewer.sh >/dev/null

run: setup  ## the whole labeling loop on real scans on this machine (upload → de-identify → label → consensus → train → pre-label → export → report), then the web viewer's address; in a terminal serve until Ctrl-C (ARGS=--no-wait stops, ARGS=--quick: a shorter run)
	@$(PHASE) checkers bash -c 'scripts/tools.sh dciodvfy >/dev/null && scripts/peers.sh >/dev/null'
	@$(PHASE) pacs scripts/infra/orthanc.sh install
	@$(PHASE) run $(PYTHON) scripts/labeling_loop.py $(ARGS)

test: setup  ## contracts lint and freshness, real servers up, every test suite, servers down
	@scripts/test.sh $(PYTEST_ARGS)

infra-up: setup  ## start Kafka, MinIO, PostgreSQL and Orthanc on loopback; prints the RADLAB_TEST_*_URL exports
	@scripts/infra.sh up

infra-down:  ## stop them and remove their data
	@scripts/infra.sh down

protos: setup  ## regenerate radlab/**/_pb2*.py from protos/
	@scripts/protos.sh generate

check-protos: setup  ## buf lint, and fail if the generated code is stale
	@scripts/protos.sh check

rules: setup  ## regenerate the packaged PS3.15 rule table (services/anonymization/profile_rules.json)
	@scripts/rules.sh

bench: setup  ## benchmarks vs named peers: anonymization (gdcmanon, dicognito, …), ingestion (dcm2niix), interpolation (ITK MCI); serving load; the web viewer (against its goals); annotation (highdicom, plastimatch; saves, imports, listing); workflow (consensus speed, items through review); replicas (a burst through one and two processes of every service on Kafka + PostgreSQL, events/s); training (few-shot U-Net vs interpolation, Ray path vs plain loop); the RPC fuzz at 600 calls per method
	@$(PHASE) bench $(PYTHON) -m bench

clean:  ## remove local state (.radlab) and the .venv link; the cache stays
	rm -rf .radlab .venv
