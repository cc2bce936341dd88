# Two entry points for a fresh machine (see README.md):
#   make report   set up .venv, run the whole workflow with config.yaml, produce the report
#   make test     set up .venv, run the test suite
#   make lint     set up .venv, run the static checks (snakemake --lint, snakefmt, ruff, mypy)
#   make bench    set up .venv, run the speed and scale benchmark (results/perf/)
#   make gpu-check  set up .venv, check every CUDA path against the CPU (says so and exits 0 without CUDA)
#   make docs     regenerate docs/configuration.md from the schemas (a test fails when it is stale)
# Setup is idempotent: the venv is rebuilt only when requirements.txt or pyproject.toml change.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.descent-installed
SNAKEMAKE_ARGS ?=

# Jobs run `python` from PATH; make it the venv's.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup report test lint bench gpu-check docs clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

report: $(STAMP)
	$(BIN)/snakemake --workflow-profile profiles/default $(SNAKEMAKE_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# Static checks (CI runs them before the tests): Snakemake's own linter, snakefmt, ruff, mypy.
lint: $(STAMP)
	$(BIN)/snakemake --lint --configfile .test/config.yaml
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/ruff check src tests scripts bench
	$(BIN)/ruff format --check src tests scripts bench
	$(BIN)/mypy

# Speed and scale benchmark (not part of the tests): prints a table, records results/perf/*.json.
bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# Every CUDA path (matmul backend, CUDA fits) against the CPU in a few minutes: results/perf/gpu_check.json.
gpu-check: $(STAMP)
	$(BIN)/python bench/gpu_check.py $(GPU_CHECK_ARGS)

# The configuration reference, generated from schemas/*.schema.yaml and the built-in methods' options.
docs: $(STAMP)
	$(BIN)/python -m descent.config.reference docs/configuration.md

clean:
	rm -rf results .snakemake
