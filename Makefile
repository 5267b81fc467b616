VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m app serve

test: $(STAMP)
	$(PY) -m ruff check app tests $(wildcard bench)
	$(PY) -m ruff format --check app tests $(wildcard bench)
	$(PY) -m mypy app
	node --test tests/js/
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check app tests $(wildcard bench)
	$(PY) -m ruff format --check app tests $(wildcard bench)
	$(PY) -m mypy app

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
