# Everything a person does with this project. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LAB ?= mlops-capstone
DEMO_OUT ?= grader-reports/demo

.PHONY: help setup engine tools images demo test test-unit test-integration lint bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(BIN)/grader: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

setup: $(BIN)/grader engine tools ## install the grader in .venv and make sure a Docker engine runs
	bash scripts/ensure-browser.sh  # chromium for the browser tests of grader serve
	bash scripts/ensure-services.sh  # redis-server and PostgreSQL for the distributed cohort tests

engine: ## start a Docker engine if none answers (installs docker.io on Debian as root)
	bash scripts/ensure-docker.sh

tools: ## host tools check types mount into sandboxes (promtool from Debian; flake8, pylint, black from PyPI)
	bash scripts/ensure-tools.sh
	bash scripts/ensure-python-linters.sh

images: setup ## build (or reuse) the sandbox images
	$(BIN)/grader images runtime

demo: images ## grade the built-in reference solution and write its reports
	$(BIN)/grader grade labs/$(LAB)/reference --lab $(LAB) --out $(DEMO_OUT); \
	  status=$$?; echo "reports: $(DEMO_OUT)/report.html  $(DEMO_OUT)/report.md  $(DEMO_OUT)/report.json"; exit $$status

# A grading keeps about one core busy, the rest of its time it waits on containers: two workers finish the
# suite much sooner than one on two cores. The slowest tests are listed so that growth shows.
TEST_WORKERS ?= 2
PYTEST_ARGS ?=

test: images ## the full suite: unit and integration tests against real containers, on TEST_WORKERS workers
	$(BIN)/python -m pytest tests -n $(TEST_WORKERS) --dist loadgroup --durations=15 $(PYTEST_ARGS)

test-unit: $(BIN)/grader ## the fast suite: pure logic, no engine needed
	$(BIN)/python -m pytest tests/unit -q

lint: $(BIN)/grader ## ruff and mypy
	$(BIN)/ruff check grader tests
	$(BIN)/mypy grader

bench: images ## time grading runs and write the figures to bench/results.json
	$(BIN)/python scripts/bench.py --out bench/results.json

clean: ## remove the grader's leftovers on the engine, caches and reports
	-$(BIN)/grader cleanup
	rm -rf grader-reports .pytest_cache .mypy_cache .ruff_cache
