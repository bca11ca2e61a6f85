# The two commands: `make run` and `make test`. Both set up everything they need first.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: run test setup system-deps venv lint bench clean train-smoke

run: setup
	$(BIN)/ops db up
	$(BIN)/ops ssot sync
	$(BIN)/ops demo

test: setup
	@# pytest exits 5 when it collected nothing: that is a failure here, never green.
	$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: no tests were collected" >&2; exit 1; fi; exit $$rc

setup: system-deps venv

system-deps:
	@scripts/install-system-deps

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@

# `make bench` (full) or `make bench SIZE=smoke`: every bench/<name>.py with run(size, url), one table
# of ratios (bench/README.md); results in bench/results/<name>.json. Peers get their own venvs.
SIZE ?= full
bench: setup
	$(BIN)/python bench/run.py --size $(SIZE)

# Optional (not part of `make test`): TRL's SFT, DPO and KTO trainers for a few steps on `ops export` data, with a
# tiny model and tokenizer built locally. Installs the `train` extra (torch CPU, transformers, trl) first.
train-smoke: setup
	$(BIN)/python -m pip install -q -e '.[test,train]'
	$(BIN)/python scripts/train-smoke

clean:
	@if [ -x $(BIN)/ops ]; then $(BIN)/ops db down; \
	  $(BIN)/python -c "from pathlib import Path; from worker.cluster import Cluster; c = Cluster(Path('.ops/test').resolve()); c.running() and c.stop()"; \
	else echo "no $(VENV): nothing running to stop"; fi
	rm -rf .ops $(VENV)
