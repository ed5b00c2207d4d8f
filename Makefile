# The workshop in two commands: `make lab` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# `make lab` installs what the notebooks need; `make test` (and `make install`, for contributors)
# adds the test extras. One stamp each, so `make lab` never pulls in the test tools.
LAB_STAMP  := $(VENV)/.lab-stamp
TEST_STAMP := $(VENV)/.test-stamp
# Offline install: with wheels in the wheelhouse (`make wheelhouse`, or the folder from the
# instructor's USB stick in WORKSHOP_WHEELHOUSE), pip never touches the network.
WHEELHOUSE ?= $(or $(WORKSHOP_WHEELHOUSE),wheelhouse)
OFFLINE    := $(if $(wildcard $(WHEELHOUSE)/*.whl),--no-index --find-links $(WHEELHOUSE),)
# uv installs the same wheels several times faster; used when the wheelhouse carries it. It also
# makes the environment (deploy/uv_venv.py): `python -m venv` runs ensurepip, then pip would have to
# start to install uv, seconds of a fresh clone's set-up before any of the workshop's packages.
UV_WHEEL   := $(firstword $(wildcard $(WHEELHOUSE)/uv-*.whl))
PIP_INSTALL = $(if $(and $(OFFLINE),$(UV_WHEEL)),$(BIN)/uv pip install --quiet --python $(BIN)/python,$(BIN)/python -m pip install --quiet)

.PHONY: install lab test test-fast lint services doctor bench clean help wheelhouse

help:
	@echo "make lab    - set up (venv, packages, embedded PostgreSQL, data) and open JupyterLab"
	@echo "make test   - the same set-up, a local Elasticsearch node if Java+Maven are here, lint, then every test"
	@echo "make test-fast - lint and the tests without notebooks, browser and fault injection"
	@echo "make wheelhouse - download every wheel for an offline room (WORKSHOP_WHEELHOUSE, default wheelhouse/)"
	@echo "make doctor - check the set-up;  make bench - run the benchmarks;  make clean - remove .venv and .workshop"

$(VENV)/.venv-stamp:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (found: $$($(PYTHON) --version 2>&1)); set PYTHON=python3.12 for example"; exit 1; }
	$(if $(and $(OFFLINE),$(UV_WHEEL)),$(PYTHON) deploy/uv_venv.py $(WHEELHOUSE) $(VENV),@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV))
	$(if $(OFFLINE),,$(BIN)/python -m pip install --quiet --upgrade pip)
	@touch $@

$(LAB_STAMP): pyproject.toml $(VENV)/.venv-stamp
	$(PIP_INSTALL) $(OFFLINE) -e .
	@# JupyterLab 4's "get notified about news?" toast ignores the server flags: its plugin is switched off
	@# in a page config file, what `jupyter labextension disable --level=sys_prefix` writes (in the .d
	@# folder JupyterLab merges, so no other setting is overwritten) without starting Jupyter for seconds.
	@mkdir -p $(VENV)/etc/jupyter/labconfig/page_config.d
	@cp deploy/labconfig/workshop.json $(VENV)/etc/jupyter/labconfig/page_config.d/workshop.json
	@touch $@

$(TEST_STAMP): $(LAB_STAMP)
	$(PIP_INSTALL) $(OFFLINE) $(if $(OFFLINE),--find-links $(WHEELHOUSE)/test,) -e '.[test]'
	@touch $@

install: $(TEST_STAMP)

wheelhouse:
	$(PYTHON) deploy/wheelhouse.py --dest $(WHEELHOUSE) $(WHEELHOUSE_ARGS)

lab: $(LAB_STAMP)
	$(BIN)/workshop lab

doctor: $(LAB_STAMP)
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

# PYTEST_ARGS: a selection, e.g. PYTEST_ARGS='-m "not zombodb"' (.ci/run runs those last, once built).
# The exercise checks run again on the dataset size the notebooks use (EXERCISE_SIZES; empty: not again).
# LANES=2: the browser, room-run and Binder tests run beside the others (tests/lanes.py); LANES=1: one pytest.
EXERCISE_SIZES ?= workshop
LANES ?= 2
test: $(TEST_STAMP) lint services
	$(BIN)/python tests/lanes.py --lanes $(LANES) --exercise-sizes "$(EXERCISE_SIZES)" --durations=25 $(PYTEST_ARGS)

test-fast: lint
	$(BIN)/python -m pytest -m "not notebooks and not browser and not faults"

bench: install
	$(BIN)/workshop bench --json bench.json

clean:
	-$(BIN)/workshop es down
	-$(BIN)/workshop db down
	rm -rf $(VENV) .workshop
