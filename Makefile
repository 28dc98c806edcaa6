# The two commands a newcomer needs: `make demo` and `make test` (see README.md).
PYTHON_BASE := $(shell scripts/find-python)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

# The second test pass, against real services (CI has both on loopback).
CI_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/crmreports
CI_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: install test test-embedded test-default test-clock test-services lint demo widget bench clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON_BASE) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	scripts/install-browser
	rm -f $(VENV)/.installed-* && touch $@

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

# The three passes share nothing (each has its own VAR_DIR, database and broker; the suite picks
# free ports), so they run side by side, the two long ones each spread over PYTEST_WORKERS
# pytest-xdist processes (tests/xdist_isolation.py gives each worker its own VAR_DIR and Redis
# database); the short clock pass takes one, which is done before them. A pass's output is
# printed whole when it ends.
test: lint
	$(MAKE) --no-print-directory -j3 --output-sync=target test-default test-clock test-services

# 0 runs each pass in one process (the durability test drops only its Celery worker's named
# connections, so no later test on the same xdist worker finds its own connections dead).
PYTEST_WORKERS ?= 2
# Whole files to a worker, so module-scoped fixtures are built once; each pass names its
# slowest steps (the suite's time is spent in a few fixtures and browser tests).
PYTEST := $(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=15

# The sandbox generates its history from the day it runs, so its and the reports' tests also
# run with the clock moved to a leap day, which would catch a test that holds only today.
TEST_CLOCK ?= 2028-02-29T15:30:00+03:00

test-embedded: test-default test-clock

test-default: $(STAMP)
	VAR_DIR=var/test $(PYTEST)

test-clock: $(STAMP)
	VAR_DIR=var/test-clock $(PY) -m pytest tests/integrations/sandbox tests/reports \
		-m "not worker" --clock $(TEST_CLOCK)

test-services: $(STAMP)
	@if PYTHON=$(PY) scripts/services-reachable; then \
		echo "== second pass: PostgreSQL + Redis + real Celery worker"; \
		VAR_DIR=var/test-services DATABASE_URL=$(CI_DATABASE_URL) REDIS_URL=$(CI_REDIS_URL) \
		SECRET_KEY=test-secret-key FIELD_ENCRYPTION_KEY=$$($(PY) -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())') \
		$(PYTEST); \
	else \
		echo "== second pass skipped: PostgreSQL (127.0.0.1:5432) or Redis (127.0.0.1:6379) not reachable"; \
	fi

demo: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo

# The amoCRM widget archive to upload in the integration's settings (PUBLIC_URL is its backend).
widget: $(STAMP)
	$(PY) manage.py amocrm_widget

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) var
