# Two commands do all the set-up on a fresh machine:
#   make demo   installs trajscope into .venv and starts the live demo search
#   make test   installs the test extras into .venv and runs the tests
# and one for the edit-test loop: make test-fast (no Docker, browser, subprocess or slow tests).
PYTHON ?= python3
# The torch requirement installed first. Plain "torch" gives GPU users PyPI's CUDA
# build; CI (and machines without a GPU) can say TORCH=torch==2.13.0 for the CPU wheel.
TORCH ?= torch
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast bench clean

$(BIN)/trajscope: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.test-installed: $(BIN)/trajscope
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/trajscope
	$(BIN)/trajscope demo

test: $(VENV)/.test-installed
	$(BIN)/ruff check $(CURDIR)
	cd $(CURDIR) && $(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest

# The engine and the UI in-process, stopping at the first failure; CI runs `make test`.
FAST := not docker and not slow and not browser and not subprocess
test-fast: $(VENV)/.test-installed
	$(BIN)/ruff check $(CURDIR)
	$(BIN)/python -m pytest -x -q -m "$(FAST)"

bench: $(BIN)/trajscope
	$(BIN)/trajscope bench open

clean:
	rm -rf $(VENV)
