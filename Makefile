# Two commands: `make run` (set up, then trace the default run) and `make test` (set up, then test).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check --quiet

.PHONY: run test bench install install-test clean

run: $(VENV)/.installed
	$(BIN)/pipetrace run

# two processes, a test file each at a time (--dist loadfile: a file's shared lab, browser and runs start once):
# TensorFlow imports, Chromium and the lab's workers spend much of the suite waiting on one core
TEST_WORKERS ?= 2

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench.py
	$(BIN)/python benchmarks/lab.py

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# pipetrace depends on Keras; the [cpu] extra adds TensorFlow's small CPU build (see README: GPU, Colab),
# [lab] what `pipetrace lab` serves and trains with (Starlette, uvicorn, Dask distributed)
$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -e '.[cpu,lab]'
	@touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PIP) install -e '.[cpu,lab,test]'
	@touch $@

clean:
	rm -rf $(VENV) runs build dist src/*.egg-info .pytest_cache
