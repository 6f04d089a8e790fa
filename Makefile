# churnwatch — the two commands of the README are `make demo` and `make test`.
# Both set everything up on a fresh machine (Python venv, Kafka jars from Maven Central, redis-server)
# and reuse it all the second time. Service logs: .cache/logs/.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
BIN := .venv/bin
SERVICES := deploy/local/services.sh
EXTRAS ?= test,bench,rocksdb

.PHONY: venv compile up down status lint test test-quick demo bench evaluate clean

venv:
	@deploy/local/venv.sh $(EXTRAS)

# The compiled core (mypyc, agents/core_build.py) in .cache/compiled/: about a minute, rebuilt only
# when the compiled modules change; without a C compiler a note, and the pure-Python core runs.
compile: venv
	@$(BIN)/python -m agents.core_build --if-possible

up: venv
	@$(SERVICES) up

down:
	@$(SERVICES) down

status:
	@$(SERVICES) status

lint: venv
	$(BIN)/ruff check --output-format concise .
	$(BIN)/ruff format --check -q .
	$(BIN)/mypy

# Everything: lint, local Kafka and Redis, unit and integration tests. pytest's "no tests collected"
# (exit 5) is not a failure. The secured twins (kafka-secure, redis-secure) are started by the
# tests that need them. Services this run had to start are stopped at the end (KEEP_SERVICES=1
# keeps them); services that were already running stay up.
test: lint compile
	@before=" $$($(SERVICES) running | tr '\n' ' ') "; \
	$(SERVICES) up; \
	rc=0; $(BIN)/pytest -q || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest: no tests collected (not a failure)"; rc=0; fi; \
	if [ -z "$${KEEP_SERVICES:-}" ]; then \
	  for s in kafka redis kafka-secure redis-secure; do [[ "$$before" == *" $$s "* ]] || $(SERVICES) down $$s; done; \
	fi; \
	exit $$rc

# The quick subset: no services, no slow tests.
test-quick: venv
	@rc=0; $(BIN)/pytest -q -m "not integration and not slow" || rc=$$?; \
	if [ $$rc -eq 5 ]; then rc=0; fi; exit $$rc

demo: up compile
	@deploy/local/demo.sh

bench: up compile
	$(BIN)/python -m bench run

# The backtest of the default pack on the public CDNOW sample (no services needed). The sample
# ships inside the lifetimes package on PyPI, installed by the `evaluate` extra (data file only).
evaluate: EXTRAS := $(EXTRAS),evaluate
evaluate: venv
	$(BIN)/python -m bench.evaluate

clean: down
	rm -rf .cache .venv churnwatch-data
