# Quire: every target creates the local virtual environment it needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast check lint format bench fuzz clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Run Quire on the embedded default (SQLite file) with the seed stories loaded.
demo: $(STAMP)
	$(BIN)/quire serve --demo

## Every test suite; PostgreSQL suites skip without a server unless CI=true.
test: $(STAMP)
	.ci/ensure-chromium
	.ci/ensure-nginx
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -x tests/unit

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

## Schema-driven fuzzing of every API operation (schemathesis): many more
## examples per operation than CI's run of the same test.
fuzz: $(STAMP)
	QUIRE_FUZZ_EXAMPLES=$${QUIRE_FUZZ_EXAMPLES:-100} $(BIN)/python -m pytest -q -s -p no:cacheprovider tests/api/test_fuzz_openapi.py
