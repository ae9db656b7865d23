# Quick start: `make demo` then `make test`. Both create .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kerasgan-installed
export TF_CPP_MIN_LOG_LEVEL ?= 3
export KERAS_BACKEND := tensorflow

.PHONY: demo test lint bench bench-deps clean

$(STAMP): requirements.txt setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip "setuptools>=64"
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-build-isolation --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/kerasgan train gan_grid25 --epochs 10

test: $(STAMP)
	$(BIN)/python -m pytest -n 2

lint: $(STAMP)
	$(BIN)/ruff check kerasgan tests recipes benchmarks

bench-deps: $(STAMP)
	$(BIN)/python -m pip install --quiet -r benchmarks/requirements.txt

bench: bench-deps
	$(BIN)/python benchmarks/gan_step.py
	$(BIN)/python benchmarks/mode_coverage.py
	$(BIN)/python benchmarks/flow_speed.py
	$(BIN)/python benchmarks/flow_quality.py

clean:
	rm -rf $(VENV) runs .pytest_cache
