# churnwatch — the two commands of the README are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: venv up down status lint test test-quick demo bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,bench,rocksdb]'
	@rm -f $(VENV)/.installed-* && touch $@

up: venv
	deploy/local/services.sh up

down:
	deploy/local/services.sh down

status:
	deploy/local/services.sh status

lint: venv
	$(BIN)/ruff check --output-format concise .
	$(BIN)/ruff format --check -q .
	$(BIN)/mypy

# Everything: lint, local Kafka and Redis, unit and integration tests (pytest's "no tests" is not a failure).
test: lint up
	@$(BIN)/pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; rc=0; fi; exit $$rc

# The quick subset: no services, no slow tests.
test-quick: venv
	@$(BIN)/pytest -q -m "not integration and not slow"; rc=$$?; [ $$rc -eq 5 ] && rc=0; exit $$rc

demo: up
	deploy/local/demo.sh

bench: up
	$(BIN)/python -m bench run

clean: down
	rm -rf .cache $(VENV) churnwatch-data
