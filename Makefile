# YouthLink — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
RVENV := .venv-rasa
APP_PY := $(VENV)/bin/python
RASA_PY := $(RVENV)/bin/python
RASA := $(RVENV)/bin/rasa
MODEL := models/youthlink.tar.gz
RASA_DATA := --config config.yml --domain bot/domain --data nlu bot/data
RASA_INPUTS := config.yml $(shell find bot/domain bot/data nlu -name '*.yml' 2>/dev/null) \
               $(wildcard bot/*.py) $(shell find safeguarding_rules -name '*.py' -o -name '*.yml' 2>/dev/null)

export PYTHONPATH := $(CURDIR)
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup run test chat train lint bench validate test-rasa test-app browser-deps clean safeguarding-model

help:
	@echo "make run    - set up whatever is missing, then start everything (SQLite)"
	@echo "make test   - set up whatever is missing, then run the whole test suite"
	@echo "make chat   - chat with the running assistant in this terminal (SCRIPT=file: scripted, JSON out)"
	@echo "make train  - train the Rasa model (only when data or config changed)"
	@echo "make lint   - ruff and mypy"
	@echo "make bench  - benchmarks; figures go in docs/benchmarks.md"
	@echo "make safeguarding-model - retrain the model behind the safeguarding rules"

$(VENV)/.stamp: requirements/app.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(APP_PY) -m pip install -q --disable-pip-version-check -r requirements/app.txt
	$(APP_PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

$(RVENV)/.stamp: requirements/rasa.txt
	scripts/make-rasa-venv $(RVENV)
	touch $@

$(MODEL): $(RVENV)/.stamp $(RASA_INPUTS)
	$(RASA) train $(RASA_DATA) --out models --fixed-model-name youthlink
	touch $@

.env: | $(VENV)/.stamp
	$(APP_PY) -m youthlink.devenv .env

setup: $(VENV)/.stamp $(RVENV)/.stamp $(MODEL) .env

train: $(MODEL)

run: setup
	@scripts/run

chat: $(VENV)/.stamp .env
	@set -a && . ./.env && set +a && $(VENV)/bin/youthlink chat $(if $(SCRIPT),--script $(SCRIPT))

validate: $(RVENV)/.stamp
	$(RASA) data validate $(RASA_DATA) --fail-on-warnings

lint: $(VENV)/.stamp
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy youthlink channels handoff safeguarding_rules bot actions

safeguarding-model: $(VENV)/.stamp
	$(APP_PY) -m safeguarding_rules train-model

browser-deps:
	@scripts/ensure-chromium

test-rasa: $(RVENV)/.stamp $(MODEL)
	$(RASA) data validate $(RASA_DATA) --fail-on-warnings
	$(RASA) test core --model $(MODEL) --stories bot/tests --fail-on-prediction-errors --out var/rasa-test-results
	$(RASA_PY) -m pytest -q tests/actions tests/bot -p no:cacheprovider

test-app: $(VENV)/.stamp $(RVENV)/.stamp $(MODEL) browser-deps
	$(APP_PY) -m pytest -q --ignore=tests/actions --ignore=tests/bot -m "not browser"
	@# Playwright's sync API keeps an event loop running in the main thread, which the asyncio
	@# tests cannot share: the browser tests get a run of their own.
	$(APP_PY) -m pytest -q --ignore=tests/actions --ignore=tests/bot -m browser

test: setup lint test-rasa test-app

bench: setup
	@scripts/bench

clean:
	rm -rf var/rasa-test-results .pytest_cache .mypy_cache .ruff_cache
