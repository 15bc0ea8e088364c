# `make test` runs every test; `make demo` runs the main job on a local AWS emulator.
# Both create .venv from uv.lock (hash-verified) on first use, and again whenever a dependency declaration changes.
PYTHON ?= python3
UV_VERSION := 0.13.9
# Shared by every clone on the machine, like uv's own package cache: a fresh clone does not pay for it again.
UV_HOME := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/commodity-forecasts/uv-$(UV_VERSION)
UV := $(UV_HOME)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
IMAGE_GROUPS := predictor trainer
# The exported, hash-pinned requirement files the image builds install (the build context is images/).
IMAGE_LOCKS := $(foreach group,$(IMAGE_GROUPS),images/$(group)/requirements.txt) images/build-requirements.txt
# Exported from uv.lock too, for pip users: the program's own dependencies with hashes.
EXPORTS := $(IMAGE_LOCKS) tools/lambda-base/requirements.txt bench/xray/requirements.txt requirements.txt
# uv never downloads a Python of its own here: the venv uses $(PYTHON).
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)

.PHONY: test demo bench cost docker images serve lock exports upgrade check-python clean uv-path

# The layer contracts first (pyproject.toml's import-linter section), then every test.
test: $(VENV)/.synced
	$(BIN)/lint-imports --no-cache
	UV=$(UV) $(BIN)/pytest

demo: $(VENV)/.synced
	$(BIN)/python -m demo

bench: $(VENV)/.synced docker
	UV=$(UV) $(BIN)/python -m bench

# Every stack's monthly estimate from its settings and the resources its program declares (tools/cost.py).
cost: $(VENV)/.synced
	$(BIN)/python -m tools.cost --all

# A Docker engine, arm64 emulation and the stand-in base images (root, Debian).
docker: $(UV)
	UV=$(UV) tools/docker-engine.sh

# The predictor and trainer as long-lived containers on localhost ports, against the embedded emulator.
serve: $(VENV)/.synced docker
	$(BIN)/python -m tools.serve

# Every image for linux/amd64 and linux/arm64, tagged commodity-forecasts-local/<image>:<x86_64|arm64>.
images: $(VENV)/.synced docker
	$(BIN)/python -m tools.images

# Where the pinned uv is, for PATH: the Pulumi CLI's `toolchain: uv` (Pulumi.yaml, policy/PulumiPolicy.yaml)
# looks `uv` up on PATH (pulumi/pulumi sdk/python/toolchain/uv.go), so every job running the CLI adds it.
uv-path: $(UV)
	@echo $(UV_HOME)/bin

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] in ((3, 11), (3, 12)) else 1)' 2>/dev/null || { \
	  echo "commodity-forecasts needs Python 3.11 or 3.12 as '$(PYTHON)'; found: $$($(PYTHON) --version 2>&1 || echo none). Run make PYTHON=python3.12 ..." >&2; exit 1; }

# uv itself, pinned, installed from PyPI with the interpreter's own pip (nothing else is assumed).
$(UV): | check-python
	rm -rf $(UV_HOME).partial
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-deps --only-binary :all: --target $(UV_HOME).partial uv==$(UV_VERSION)
	rm -rf $(UV_HOME) && mv $(UV_HOME).partial $(UV_HOME)

# Which interpreter built .venv: version and installation (another one means a new venv).
PY_TAG := $(shell $(PYTHON) -c 'import hashlib, sys; print("%d.%d-%s" % (*sys.version_info[:2], hashlib.sha256(sys.base_prefix.encode()).hexdigest()[:10]))' 2>/dev/null)

# A lockfile out of date with pyproject.toml is refused; any change to a dependency declaration (the
# lock, pyproject.toml, the images' exported requirements) re-syncs.
$(VENV)/.synced: pyproject.toml uv.lock $(EXPORTS) $(UV) $(VENV)/.python-$(PY_TAG) | check-python
	@$(UV) lock --check --quiet 2>/dev/null || { \
	  echo "uv.lock is out of date with pyproject.toml: run 'make lock' and commit uv.lock and the images' requirements." >&2; exit 1; }
	$(UV) sync --frozen --quiet
	touch $(VENV)/.python-$(PY_TAG) $@

# No marker for this interpreter: a venv that exists was built by another one, and is rebuilt.
$(VENV)/.python-$(PY_TAG): | check-python
	@if [ -e $(VENV) ]; then echo "$(VENV) was not built by $(PYTHON) ($(PY_TAG)), or predates this check; recreating it" >&2; rm -rf $(VENV); fi

# Re-resolve after editing pyproject.toml (keeps every other version), and export what the images install.
lock: $(UV)
	$(UV) lock
	$(MAKE) --no-print-directory exports

exports: $(UV)
	@for group in $(IMAGE_GROUPS); do \
	  $(UV) export --frozen --quiet --only-group $$group --no-emit-project --output-file images/$$group/requirements.txt; done
	@$(UV) export --frozen --quiet --only-group image-build --no-emit-project --output-file images/build-requirements.txt
	@$(UV) export --frozen --quiet --only-group lambda-runtime --no-emit-project --output-file tools/lambda-base/requirements.txt
	@$(UV) export --frozen --quiet --only-group bench-xray-sdk --no-emit-project --output-file bench/xray/requirements.txt
	@$(UV) export --frozen --quiet --no-default-groups --no-emit-project --output-file requirements.txt

# Dependabot-style upkeep: every pin moves together, then the parity, closure and size checks run.
upgrade: $(UV)
	$(UV) lock --upgrade
	$(MAKE) --no-print-directory exports
	$(UV) sync --frozen --quiet
	UV=$(UV) $(BIN)/pytest tests/images/test_requirements.py tests/images/test_image_environments.py tests/images/test_forest.py tests/images/test_containers.py

clean:
	rm -rf $(VENV) .pytest_cache demo-output .cache
