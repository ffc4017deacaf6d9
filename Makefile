# The whole set-up is `make run` or `make test` on a fresh machine (README). Both create the
# environment (.venv), install every package of the repository editable, and perform the system
# steps the real components need (scripts/setup-system.sh: apt packages, kernel headers, tracefs).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# Every distribution of the repository: core, each plugin, and the third-party plugins the tests
# install like a user would (tests/fixtures/*/pyproject.toml).
PACKAGES := core $(patsubst %/pyproject.toml,%,$(sort $(wildcard plugins/*/pyproject.toml))) \
            $(patsubst %/pyproject.toml,%,$(sort $(wildcard tests/fixtures/*/pyproject.toml)))
PYPROJECTS := $(addsuffix /pyproject.toml,$(PACKAGES))
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup system venv run test bench lint clean

setup: system venv

system:
	@bash scripts/setup-system.sh

venv: $(STAMP)

$(STAMP): $(PYPROJECTS) requirements-dev.txt Makefile scripts/link-bcc.sh
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements-dev.txt $(foreach p,$(PACKAGES),-e ./$(p)[test])
	@bash scripts/link-bcc.sh $(VENV)
	@touch $@

run: setup
	$(VENV)/bin/pyfalco $(RUN_ARGS)

test: setup
	$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: setup
	$(PY) -m benchmarks $(BENCH_ARGS)

lint: venv
	$(VENV)/bin/ruff check core plugins tests benchmarks

clean:
	rm -rf $(VENV) build dist .pytest_cache .hypothesis
