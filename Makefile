# The two commands in the README: `make demo` and `make test`. Both build .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python tools/run_notebook.py notebooks/01_quickstart.ipynb

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check workbench tests benchmarks tools kernels_cuda
	$(BIN)/ruff format --check workbench tests benchmarks tools kernels_cuda

bench: $(STAMP)
	$(BIN)/python benchmarks/optimize_suite.py

clean:
	rm -rf $(VENV) .workbench notebooks/.workbench
