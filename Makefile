# The two commands of the README. Each sets up what it needs on a fresh machine first.
#   make demo   start the stack on embedded defaults, publish sample tickets, print what happened
#   make test   run the test suite (starts its own broker, PostgreSQL and services)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test up bench asyncapi clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the project's dependencies change.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/workforce demo

up: $(VENV)/.installed
	$(BIN)/workforce up

test: $(VENV)/.installed
	$(BIN)/python -m pytest

bench: $(VENV)/.installed
	$(BIN)/python bench/pipeline.py

asyncapi: $(VENV)/.installed
	$(BIN)/workforce asyncapi

clean:
	rm -rf .var
