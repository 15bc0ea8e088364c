# `make test` runs every test; `make demo` runs the main job on a local AWS emulator.
# Both create .venv from the pinned requirements on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: test demo bench docker clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

test: $(VENV)/.installed
	$(BIN)/pytest

demo: $(VENV)/.installed
	$(BIN)/python -m demo

bench: $(VENV)/.installed docker
	$(BIN)/python -m bench

docker:
	tools/docker-engine.sh

clean:
	rm -rf $(VENV) .pytest_cache demo-output
