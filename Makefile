# The whole set-up is `make run` or `make test` on a fresh machine (README). Both create the
# environment (.venv), install every package of the repository editable, and perform the system
# steps the real components need (scripts/setup-system.sh: apt packages, kernel headers, tracefs).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# Every distribution of the repository: core and each plugin. The test plugins of tests/fixtures
# are not installed here (`make run` would show their sources to users): the tests that need them
# install them like a user's plugin into a temporary target (conftest.py `third_party_plugins`).
PACKAGES := core $(patsubst %/pyproject.toml,%,$(sort $(wildcard plugins/*/pyproject.toml)))
PYPROJECTS := $(addsuffix /pyproject.toml,$(PACKAGES))
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup system venv run test bench lint clean

setup: system venv

system:
	@bash scripts/setup-system.sh

venv: $(STAMP)

$(STAMP): $(PYPROJECTS) core/setup.py core/src/pyfalco/_speedups.c requirements-dev.txt Makefile \
		scripts/link-bcc.sh
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements-dev.txt $(foreach p,$(PACKAGES),-e ./$(p)[test])
	@# venvs made before the test plugins left PACKAGES still have them installed
	@$(PIP) uninstall -y -q tinysrc-pyfalco-plugin 2>/dev/null || true
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
	rm -f core/src/pyfalco/_speedups*.so
