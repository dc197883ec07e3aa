# Operating the 95598 platform: `make run` serves it on http://127.0.0.1:8000, `make test` runs the suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
# Re-run pip only when pyproject.toml is newer than the last successful install.
INSTALL_STAMP := $(VENV)/.install-stamp
# A CJK font, or Chromium draws the Chinese pages (and their screenshots) as empty boxes.
# espeak-ng and sox build the IVR's spoken prompts (scripts/build_prompts.py).
DEBIAN_PACKAGES := gettext chromium fonts-wqy-microhei espeak-ng sox
CUSTOMERS ?= 2000
PYTEST_ARGS ?=

PO_FILES := $(wildcard locale/*/LC_MESSAGES/*.po)
MO_FILES := $(PO_FILES:.po=.mo)
# compilemessages and makemessages walk the whole tree: keep them out of the virtualenv and generated files.
I18N_IGNORE := --ignore=.venv --ignore=var --ignore=node_modules --ignore=bench-results

# Local configuration (copy .env.example to .env): NAME=value lines, exported to every command below.
ifneq ($(wildcard .env),)
include .env
export $(shell sed -n -E 's/^([A-Za-z_][A-Za-z0-9_]*)=.*/\1/p' .env)
endif

# Playwright drives Debian's /usr/bin/chromium; it must never download a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: help install bench-packages debian-packages run test bench bench-smoke messages compilemessages prompts assets node

help:
	@echo "make run        install, migrate, seed demo data, serve http://127.0.0.1:8000 with a Celery worker"
	@echo "                (CUSTOMERS=$(CUSTOMERS) demo customers; override: make run CUSTOMERS=500)"
	@echo "make test       install, then run the test suite"
	@echo "make bench      full benchmark; make bench-smoke: a quick one"
	@echo "make messages   extract translatable strings into locale/en"
	@echo "make prod-local the production layout on loopback: nginx (https://127.0.0.1:8443), 2 ASGI, workers, beat"
	@echo "make restore-drill  back up, write payments, restore to a point in time, check none is lost"
	@echo "make chaos      fault tests (worker kill, Redis outage, PostgreSQL restart, AMI drops); chaos-smoke: quick"

install: $(INSTALL_STAMP) debian-packages compilemessages prompts assets

$(PY):
	$(PYTHON) -m venv $(VENV)

$(INSTALL_STAMP): pyproject.toml | $(PY)
	@echo "Installing Python packages into $(VENV)"
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

# The benchmarks and the operations tests (replication, scale-out, fault tests) start their own PostgreSQL cluster
# and Redis server on loopback; the production-layout tests run nginx with a self-signed certificate (openssl) and
# check the systemd units with systemd-analyze.
bench-packages:
	@scripts/apt_ensure.sh postgresql-15 redis-server nginx openssl systemd

debian-packages:
	@scripts/apt_ensure.sh $(DEBIAN_PACKAGES)

compilemessages: $(MO_FILES)

# Front-end libraries from the npm registry at build time (package-lock.json pins them), copied into
# static/vendor/ (not committed): the staff dashboards' ECharts. Again only when the lock file changes.
ASSETS_STAMP := static/vendor/.built
assets: $(ASSETS_STAMP)

$(ASSETS_STAMP): package.json package-lock.json scripts/build_assets.sh | node
	@bash scripts/build_assets.sh
	@touch $@

# Node.js and npm: the machine's own when present, else Debian's.
node:
	@command -v npm >/dev/null 2>&1 || scripts/apt_ensure.sh nodejs npm

# The IVR's prompts as 8 kHz WAV files for Asterisk, spoken by espeak-ng from the flow's own text; rebuilt when the
# flow or the script changes (the files are built, never committed).
PROMPTS_STAMP := callcenter/asterisk/sounds/.built
prompts: $(PROMPTS_STAMP)

$(PROMPTS_STAMP): scripts/build_prompts.py $(wildcard callcenter/ivr/*.py) $(INSTALL_STAMP) | debian-packages
	@$(PY) scripts/build_prompts.py
	@touch $@

ifneq ($(MO_FILES),)
$(MO_FILES) &: $(PO_FILES) $(INSTALL_STAMP) | debian-packages
	@$(MANAGE) compilemessages -v 0 $(I18N_IGNORE)
	@touch $(MO_FILES)
endif

messages: $(INSTALL_STAMP) debian-packages
	$(MANAGE) makemessages -l en $(I18N_IGNORE)

# Static files are served by the development server from the app folders (DEBUG), so collectstatic is not needed
# to run; production runs `manage.py collectstatic` once per release.
run: install
	@echo "== Migrating the database"
	@$(MANAGE) migrate --noinput -v 0
	@$(MANAGE) createcachetable
	@echo "== Seeding demo data ($(CUSTOMERS) customers; skipped where already present)"
	@$(MANAGE) seed_demo --customers $(CUSTOMERS)
	@$(PY) scripts/run_platform.py

test: install bench-packages
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) tests/

bench: install bench-packages
	$(PY) bench/run.py
	$(PY) bench/notifications_bench.py --customers 50000
	$(PY) bench/tickets_bench.py
	$(PY) bench/cms_bench.py
	$(PY) bench/portal_bench.py
	$(PY) bench/webhook_bench.py
	$(PY) bench/ami_bench.py
	$(PY) bench/readings_bench.py
	$(PY) bench/dashboards_bench.py
	$(PY) bench/busy_day_bench.py
	$(PY) bench/alerts_bench.py

bench-smoke: install bench-packages
	$(PY) bench/run.py --smoke
	$(PY) bench/notifications_bench.py --customers 2000 --deliver 200
	$(PY) bench/tickets_bench.py --smoke
	$(PY) bench/cms_bench.py --smoke
	$(PY) bench/portal_bench.py --smoke
	$(PY) bench/webhook_bench.py --smoke
	$(PY) bench/ami_bench.py --smoke
	$(PY) bench/readings_bench.py --smoke
	$(PY) bench/dashboards_bench.py --smoke
	$(PY) bench/busy_day_bench.py --smoke
	$(PY) bench/alerts_bench.py --smoke

# The restore drill (deploy/postgres/README.md): on loopback, a primary archiving its WAL and a streaming standby,
# the real schema, a backup, payments through the real service, then a point-in-time restore on a fresh cluster;
# fails if any payment committed before the target is missing or one after it came back.
RESTORE_DRILL_PAYMENTS ?= 300
.PHONY: restore-drill
restore-drill: install bench-packages
	$(PY) scripts/restore_drill.py --payments $(RESTORE_DRILL_PAYMENTS)

# The production layout on this machine, on loopback (deploy/README.md): its own PostgreSQL cluster and Redis, nginx
# with a self-signed certificate on https://127.0.0.1:8443, two ASGI processes, a Celery worker per group of queues
# and beat through honcho (Procfile), production settings; state kept in var/prod-local/. Ctrl-C stops everything.
# Ports: make prod-local PROD_LOCAL_ARGS="--https-port 9443 --asgi-ports 9001,9002".
PROD_LOCAL_ARGS ?=
.PHONY: prod-local
prod-local: CUSTOMERS = 200
prod-local: install
	@scripts/apt_ensure.sh postgresql-15 redis-server nginx openssl systemd
	@$(PY) scripts/prod_local.py --customers $(CUSTOMERS) $(PROD_LOCAL_ARGS)

# Fault tests (bench/chaos): the platform on its own PostgreSQL cluster and Redis with real daphne and Celery
# processes, under load, while a worker is SIGKILLed, Redis stopped for 30 s, PostgreSQL restarted and the AMI
# connection dropped; prints per scenario the load, the faults, the work lost and duplicated, and exits non-zero if
# any was. chaos-smoke: reduced counts and a 5 s Redis outage (CI). One scenario: make chaos CHAOS_ARGS="--only ami_drop".
CHAOS_ARGS ?=
.PHONY: chaos chaos-smoke
chaos: install bench-packages
	$(PY) -m bench.chaos $(CHAOS_ARGS)

chaos-smoke: install bench-packages
	$(PY) -m bench.chaos --smoke $(CHAOS_ARGS)
