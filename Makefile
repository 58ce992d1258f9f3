# The two commands a newcomer needs: `make run` and `make test`. Everything else is optional.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PROCESSES ?= 2


.PHONY: run run-cluster test install migrate lint format stop-db clean-db bench

# The venv is rebuilt whenever a requirements file changes.
$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed

migrate: install
	$(BIN)/python manage.py migrate --noinput

# The server runs in the background and the recipe's shell waits for it: a shell runs its
# traps only between commands, so with the server in the foreground a SIGTERM to `make` (a
# process manager, `timeout`, `kill`) reached the shell and waited for ever. Ctrl+C or SIGTERM
# drains the server (maraum/serve.py), then the worker and the database stop (the EXIT trap).
WAIT_FOR_SERVER = server=$$!; status=0; \
	while kill -0 $$server 2>/dev/null; do wait $$server; status=$$?; done; exit $$status

## run: install, start the database (embedded unless DATABASE_URL is set), migrate, start the
## background task worker (scene reports, card meanings) and serve
## plain http on HOST:PORT; stopping it (Ctrl+C) stops the embedded database too, if this run
## started it (not when another command, say `make test`, was using it already).
run: install
	@stop_db=""; if [ -z "$$DATABASE_URL" ] && [ ! -f .data/postgres/postmaster.pid ]; then \
	  stop_db="$(BIN)/python -m lib.embedded_db stop-unless-in-use"; fi; \
	worker=""; server=""; trap '[ -z "$$worker" ] || { kill $$worker; wait $$worker; }; $$stop_db' EXIT; \
	trap 'if [ -n "$$server" ]; then kill -TERM $$server; else exit 143; fi' TERM INT; \
	$(BIN)/python manage.py migrate --noinput || exit 1; \
	setsid $(BIN)/python manage.py task_worker & worker=$$!; \
	HTTPS=false $(BIN)/python -m maraum.serve -b $(HOST) -p $(PORT) maraum.asgi:application & \
	$(WAIT_FOR_SERVER)

## run-cluster: as `run`, with PROCESSES server processes (2 by default) on Redis (REDIS_URL, by
## default this machine's) behind HAProxy (deploy/haproxy.cfg) on HOST:PORT; needs `apt-get install haproxy`.
run-cluster: install
	@stop_db=""; if [ -z "$$DATABASE_URL" ] && [ ! -f .data/postgres/postmaster.pid ]; then \
	  stop_db="$(BIN)/python -m lib.embedded_db stop-unless-in-use"; fi; \
	worker=""; server=""; trap '[ -z "$$worker" ] || { kill $$worker; wait $$worker; }; $$stop_db' EXIT; \
	trap 'if [ -n "$$server" ]; then kill -TERM $$server; else exit 143; fi' TERM INT; \
	$(BIN)/python manage.py migrate --noinput || exit 1; \
	setsid $(BIN)/python manage.py task_worker & worker=$$!; \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0} HTTPS=false \
	  $(BIN)/python -m maraum.cluster --host $(HOST) --port $(PORT) --processes $(PROCESSES) & \
	$(WAIT_FOR_SERVER)

## test: the whole suite, on the same database selection as `run`.
test: install
	HTTPS=false $(BIN)/python -m pytest $(PYTEST_ARGS)

## bench: the quick benchmark set (about five minutes); figures in bench/results/latest.json.
bench: install
	$(BIN)/python bench/quick.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## stop-db: stop the embedded PostgreSQL (its data stays; the next command starts it again).
stop-db:
	-$(BIN)/python -m lib.embedded_db stop

## clean-db: stop the embedded PostgreSQL and delete its data.
clean-db: stop-db
	rm -rf .data/postgres
