# sensorpipe: the two commands a fresh machine needs are `make demo` and `make test`.
# Each installs what it needs by itself into .venv/ and .cache/ (both ignored by git).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
LINT_PATHS := contract operator edge spark_apps local tests hack deploy

# Plain `make` prints what there is to run.
.DEFAULT_GOAL := help

# Regenerates every file derived from another (tests fail when one is stale).
generate: venv docs-images
	$(PY) deploy/render.py
	$(PY) hack/gen-chart-docs.py
	$(PY) hack/gen-api-docs.py

.PHONY: generate docs-images help venv setup firmware stack-up stack-down lint types test test-faults test-unit test-integration test-e2e demo bench clean

help:
	@echo "make demo          - set everything up and run the pipeline end to end on this machine"
	@echo "make test          - set everything up, then lint, type-check and run every test"
	@echo "make bench         - run every benchmark; results in .cache/bench/results.{json,md}"
	@echo "make setup         - only install and build what the tests and the demo need"
	@echo "make test-unit     - the unit tests that need only the venv, in about a minute"
	@echo "                     (also test-integration, test-e2e, test-faults)"
	@echo "make lint types    - ruff and mypy"
	@echo "make generate      - regenerate derived files (rendered manifests, docs, the README picture)"
	@echo "make stack-up      - start the local services (stack-down stops them)"

# The README's architecture picture, from its Graphviz source (Debian's graphviz, installed by
# setup). The source's hash goes into the SVG so a test can tell a stale picture without dot.
docs-images: docs/images/architecture.svg

docs/images/architecture.svg: docs/images/architecture.dot
	dot -Tsvg $< | sed "1a <!-- source $< sha256 $$(sha256sum $< | cut -d' ' -f1) -->" >$@.tmp
	mv $@.tmp $@

venv:
	bash hack/venv.sh

# Everything the services and tests need: Debian packages, Go-built control plane, helm,
# Maven-fetched jars, the firmware. Idempotent and quick when .cache/ is warm.
setup:
	bash hack/setup.sh

firmware: setup
	$(MAKE) -C firmware

stack-up: setup
	bash hack/stack.sh up

stack-down:
	bash hack/stack.sh down

lint: venv
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)

types: venv
	$(VENV)/bin/mypy contract/sensorpipe_contract operator/sensorpipe_operator edge/sensorpipe_edge \
	  spark_apps/sensorpipe_spark local/sensorpipe_local tests \
	  deploy hack/gen-chart-docs.py hack/gen-api-docs.py hack/kafka_ready.py

# Every test, the end-to-end fault suite included (it prints its table of faults and of lost
# and doubled readings); make test-faults runs that suite alone.
test: setup lint types
	$(PY) -m pytest $(PYTEST_ARGS)

test-faults: setup
	$(PY) -m pytest -m faults -s $(PYTEST_ARGS)

# Only the venv: the tests that need set-up's helm (marked `helm`) run in `make test`.
test-unit: venv
	$(PY) -m pytest -m "unit and not helm" $(PYTEST_ARGS)

test-integration: setup
	$(PY) -m pytest -m integration $(PYTEST_ARGS)

test-e2e: setup
	$(PY) -m pytest -m e2e $(PYTEST_ARGS)

demo: setup
	bash hack/demo.sh

bench: setup
	bash hack/bench.sh

clean:
	bash hack/stack.sh down
	rm -rf .cache/stack .cache/bench
