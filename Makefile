# Two entry points for a fresh machine: `make demo` and `make test`. Everything else is a step.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test setup setup-dev lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

setup: $(BIN)/python
	$(BIN)/pip install -q -e .

setup-dev: $(BIN)/python
	$(BIN)/pip install -q -e ".[dev,yahoo,bybit]"

demo: setup
	$(BIN)/fintrade backtest strategies/sma_crossover.py --report out/sma_crossover.html

test: setup-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q

lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy fintrade plugins bench

bench: setup-dev
	$(BIN)/python bench/bench_sweep.py
	$(BIN)/python bench/bench_cli.py

clean:
	rm -rf out build dist *.egg-info .pytest_cache
