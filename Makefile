# The workshop in two commands: `make lab` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install lab test test-fast lint services doctor bench clean help

help:
	@echo "make lab    - set up (venv, packages, embedded PostgreSQL, data) and open JupyterLab"
	@echo "make test   - the same set-up, a local Elasticsearch node if Java+Maven are here, lint, then every test"
	@echo "make test-fast - lint and the tests without notebooks, browser and fault injection"
	@echo "make doctor - check the set-up;  make bench - run the benchmarks;  make clean - remove .venv and .workshop"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (found: $$($(PYTHON) --version 2>&1)); set PYTHON=python3.12 for example"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@# JupyterLab 4's "get notified about news?" toast ignores the server flags: switch the plugin off.
	$(BIN)/jupyter labextension disable --level=sys_prefix @jupyterlab/apputils-extension:announcements >/dev/null 2>&1
	@touch $(STAMP)

install: $(STAMP)

lab: install
	$(BIN)/workshop lab

doctor: install
	$(BIN)/workshop doctor

# Elasticsearch for the search tests: started when Java and Maven are here. In CI it is
# required (CI=true), elsewhere its tests report themselves skipped with the reason.
services: install
	@if [ -n "$$CI" ]; then $(BIN)/workshop es up; \
	elif command -v java >/dev/null && command -v mvn >/dev/null; then \
		$(BIN)/workshop es up || echo "(Elasticsearch did not start: its tests will be skipped)"; \
	else echo "(no Java/Maven: Elasticsearch tests will be skipped)"; fi

# The checks a reviewer should never have to make by hand: lint, and anonymization rules that
# cover every field of every model (a new column without a rule fails here, not in a leak).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/workshop anonymize check

test: lint services
	$(BIN)/python -m pytest

test-fast: lint
	$(BIN)/python -m pytest -m "not notebooks and not browser and not faults"

bench: install
	$(BIN)/workshop bench --json bench.json

clean:
	-$(BIN)/workshop es down
	-$(BIN)/workshop db down
	rm -rf $(VENV) .workshop
