# pebench — everything a user or CI runs goes through these targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# CPU torch first: a bare `torch` requirement pulls a multi-GB CUDA build.
TORCH  ?= torch==2.13.0

.PHONY: venv test test-slow demo demo-quick reproduce bench browser clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# Chromium for the leaderboard page test; the test skips with a reason where it cannot be installed.
browser:
	@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: browser test will skip"; }

test: venv browser
	$(BIN)/python -m pytest -q

test-slow: venv browser
	$(BIN)/python -m pytest -q -m slow

demo: venv
	$(BIN)/pebench demo --preset demo --out runs/demo

demo-quick: venv
	$(BIN)/pebench demo --preset quick --out runs/demo-quick

# WORKERS=N: processes for the methods' jobs; SEEDS=N: the demo makes the data and reference models only, then
# every method at its defaults runs with seeds 0..N-1 through `pebench sweep` (mean +- std per method), each once
SEEDS ?=
WORKERS ?= 1
reproduce: venv
	$(BIN)/pebench demo --preset full --out runs/full --workers $(WORKERS) $(if $(SEEDS),--methods none) $(ARGS)
	$(if $(SEEDS),$(BIN)/pebench sweep examples/reproduce.yaml --out runs/full-sweep --seeds $(SEEDS) --workers $(WORKERS))

bench: venv
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) runs .pytest_cache
