# copytrade: the two commands are `make run` (whole service with a demo) and `make test` (every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
comma := ,
# mysqlclient compiles against the MariaDB/MySQL client headers, so it is only installed when a MySQL URL is used.
EXTRAS := dev$(if $(filter mysql%,$(TEST_DATABASE_URL) $(DATABASE_URL)),$(comma)mysql)
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))

.PHONY: install run manage test test-fast lint format bench simulator clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	@touch $@

install: $(STAMP)

## make run: simulator + web (admin) + Celery worker + beat, with demo data; Ctrl-C stops everything.
run: install
	$(BIN)/python -m copytrade.devstack

## make manage ARGS="tokens list": a manage.py command with make run's environment (demo secrets, simulator URLs),
## on the running make run's ports (var/devstack.json) unless PORT/SIM_PORT are exported.
manage: install
	$(BIN)/python -m copytrade.devstack manage $(ARGS)

## make test: every test (unit, integration, e2e). Uses MariaDB/Redis when TEST_DATABASE_URL/TEST_REDIS_URL are set.
test: install
	$(BIN)/python -m pytest

## make test-fast: skip the slow end-to-end tests.
test-fast: install
	$(BIN)/python -m pytest -m "not e2e and not slow"

## make lint: ruff, mypy (django-stubs) and a check that no model change lacks its migration.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	DJANGO_SETTINGS_MODULE=tests.settings LOG_LEVEL=WARNING $(BIN)/python manage.py makemigrations --check --dry-run

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python bench/run_all.py

simulator: install
	$(BIN)/python manage.py alice_simulator --port $${SIM_PORT:-9100}

clean:
	rm -rf $(VENV) var/*.sqlite3 var/celery-broker var/demo.env
