VENV ?= .venv
PY := $(VENV)/bin/python
RUNTIME := $(VENV)/.runtime
DEV := $(VENV)/.dev
CHECKED := app client tests bench grafana

.PHONY: run cluster test lint typecheck bench dashboards clean

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# `make run` needs the service's own dependencies only; the test tools come with `make test`.
# The service's CLI uses the client package, which lives in client/ and is installed first.
$(RUNTIME): setup.cfg pyproject.toml client/pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e ./client -e .
	touch $@

$(DEV): $(RUNTIME)
	$(PY) -m pip install --quiet -e ./client -e '.[dev]'
	touch $@

run: $(RUNTIME)
	$(PY) -m app serve

# Three nodes behind HAProxy with their own Redis, until Ctrl-C (deploy/README.md);
# e.g. make cluster CLUSTER_ARGS="--port 9000 --nodes 2".
cluster: $(RUNTIME)
	$(PY) deploy/run-cluster $(CLUSTER_ARGS)

lint: $(DEV)
	$(PY) -m ruff check $(CHECKED)
	$(PY) -m ruff format --check $(CHECKED)
	$(PY) -m mypy $(CHECKED)

test: lint
	node --test tests/js/
	$(PY) -m pytest -q

bench: $(DEV)
	$(PY) -m bench

# grafana/dashboards/livewatch-overview.json is this generator's output; tests check it is.
dashboards: $(DEV)
	$(PY) grafana/dashboard.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
