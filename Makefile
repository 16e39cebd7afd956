# The two commands of the README. Each sets up what it needs on a fresh machine first.
#   make demo   start the stack on embedded defaults, publish sample tickets, print what happened
#   make test   run the test suite (starts its own broker, PostgreSQL and services)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test up bench asyncapi clean lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the project's dependencies change; the versions are those of requirements.lock.
$(VENV)/.installed: pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]' -c requirements.lock
	touch $@

# After changing dependencies in pyproject.toml: resolve them afresh in a scratch venv and pin the result.
lock:
	rm -rf .var/lock-venv && $(PYTHON) -m venv .var/lock-venv
	.var/lock-venv/bin/python -m pip install --quiet --upgrade pip
	.var/lock-venv/bin/python -m pip install --quiet -e '.[dev]'
	.var/lock-venv/bin/python -m pip freeze --exclude-editable > requirements.lock
	rm -rf .var/lock-venv

demo: $(VENV)/.installed
	$(BIN)/workforce demo

up: $(VENV)/.installed
	$(BIN)/workforce up

test: $(VENV)/.installed
	$(BIN)/python -m pytest

bench: $(VENV)/.installed
	$(BIN)/python -m bench.pipeline

asyncapi: $(VENV)/.installed
	$(BIN)/workforce asyncapi

clean:
	rm -rf .var
