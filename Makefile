# Two commands: `make serve` and `make test`. Both set up .venv first (idempotent).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Every version pinned, torch's CPU build included: what CI tested is what a new machine gets.
LOCK   := requirements.lock
# The same pins plus the optional Ray extra, which only the cluster tests and `--ray` use.
RAY_LOCK  := requirements-ray.lock
RAY_STAMP := $(VENV)/.installed-ray

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup ray lock chromium serve test lint index clean

setup: $(STAMP)

# Headless Chromium for the browser tests, from Debian's packages (CI runs as root).
chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null)

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@# Fails when pyproject.toml asks for a package the lock lacks: run `make lock`.
	$(BIN)/python -m pip check
	touch $(STAMP)

ray: $(RAY_STAMP)

$(RAY_STAMP): $(STAMP) $(RAY_LOCK)
	$(BIN)/python -m pip install --quiet -r $(RAY_LOCK)
	$(BIN)/python -m pip check
	touch $(RAY_STAMP)

# After changing dependencies in pyproject.toml or requirements.in: re-resolve every pin.
# `make lock UPGRADE=1` also moves pinned packages to their newest allowed releases.
# Needs only pip-tools, not a complete setup: a package just added to pyproject.toml is
# not installed yet, which is what the lock is regenerated for.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/pip-compile || $(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --allow-unsafe --extra test --strip-extras \
		--no-emit-index-url --no-emit-find-links $(if $(UPGRADE),--upgrade) \
		--output-file $(LOCK) pyproject.toml requirements.in
	$(BIN)/pip-compile --quiet --allow-unsafe --extra test --extra ray --strip-extras \
		--no-emit-index-url --no-emit-find-links --constraint $(LOCK) \
		--output-file $(RAY_LOCK) pyproject.toml requirements.in

index: setup
	$(BIN)/iomqa ingest --if-missing

serve: index
	$(BIN)/iomqa serve

test: setup ray chromium
	$(BIN)/python -m pytest

lint: setup ray
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
