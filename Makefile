# Two commands do all the set-up on a fresh machine:
#   make demo   installs trajscope into .venv and starts the live demo search
#   make test   installs the test extras into .venv and runs the tests
# and one for the edit-test loop: make test-fast (no Docker, browser, subprocess or slow tests).
PYTHON ?= python3
# The torch build installed first, chosen by what the machine has: with an NVIDIA GPU
# (nvidia-smi on PATH) PyPI's torch, which carries CUDA (several GB); without one, the CPU
# build from PyTorch's CPU index (a few hundred MB). TORCH=... (a requirement, e.g. CI's
# torch==2.13.0) overrides the choice and is installed from the usual index.
ifeq ($(origin TORCH),undefined)
  ifneq ($(shell command -v nvidia-smi 2>/dev/null),)
    TORCH := torch
    TORCH_INDEX :=
    TORCH_BUILD := the CUDA build from PyPI (nvidia-smi found an NVIDIA GPU; several GB)
  else
    TORCH := torch
    TORCH_INDEX := --index-url https://download.pytorch.org/whl/cpu
    TORCH_BUILD := the CPU build from download.pytorch.org/whl/cpu (no nvidia-smi: no NVIDIA GPU)
  endif
else
  TORCH_INDEX ?=
  TORCH_BUILD := $(TORCH), as TORCH says
endif
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast bench clean

$(BIN)/trajscope: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "make: installing torch: $(TORCH_BUILD); set TORCH=... to choose another"
	$(BIN)/python -m pip install --progress-bar on "$(TORCH)" $(TORCH_INDEX)
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.test-installed: $(BIN)/trajscope
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/trajscope
	$(BIN)/trajscope demo

test: $(VENV)/.test-installed
	$(BIN)/ruff check $(CURDIR)
	$(BIN)/ruff format --check $(CURDIR)
	cd $(CURDIR) && $(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest

# The engine and the UI in-process, stopping at the first failure; CI runs `make test`.
FAST := not docker and not slow and not browser and not subprocess
test-fast: $(VENV)/.test-installed
	$(BIN)/ruff check $(CURDIR)
	$(BIN)/ruff format --check $(CURDIR)
	$(BIN)/python -m pytest -x -m "$(FAST)"

bench: $(BIN)/trajscope
	$(BIN)/trajscope bench open

clean:
	rm -rf $(VENV)
