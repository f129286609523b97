# Greenwatch developer entry points. Everything is idempotent and non-interactive.
#   make install     system packages (PostgreSQL, JDK, Maven, a CJK font) if missing, TimescaleDB for that
#                    PostgreSQL (found, Timescale's apt repository, or built from the source
#                    archive once), .venv, Kafka jars
#   make test        pytest (integration tests start the local stack themselves)
#   make check       ruff format --check, ruff check, mypy (strict)
#   make demo        greenwatch demo
#   make bench       python -m bench
#   make profile     top ten costs per measurement of the worker's pipeline (cProfile)
#   make stack-up / stack-down / stack-status
# Variables: PYTHON (interpreter for the venv), PYTEST_ARGS, NO_TESTS_OK=1 (exit 5 = success),
#   TIMESCALEDB_ARCHIVE (source archive glob, default ../shared/vendor/timescaledb/...).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STATE := .greenwatch
STAMPS := $(STATE)/stamps
KAFKA_LIBS := $(STATE)/kafka/libs
PYTEST_ARGS ?=
TIMESCALEDB_ARCHIVE ?= ../shared/vendor/timescaledb/timescaledb-*.tar.gz
NO_TESTS_OK ?=
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

export GREENWATCH_STATE_DIR ?= $(STATE)
export DEBIAN_FRONTEND := noninteractive

.PHONY: FORCE help install system-packages timescaledb test check demo bench profile stack-up stack-down stack-status

help:
	@sed -n '2,12p' Makefile | sed 's/^# \{0,1\}//'

install: system-packages timescaledb $(STAMPS)/venv $(STAMPS)/kafka-libs

# apt-get only when something is missing; `apt-get update` only then, too.
system-packages:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v java >/dev/null 2>&1 || missing="$$missing openjdk-17-jre-headless"; \
	command -v mvn >/dev/null 2>&1 || missing="$$missing maven"; \
	ls /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc >/dev/null 2>&1 || missing="$$missing fonts-wqy-zenhei"; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  $(SUDO) apt-get update -q; \
	  $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	fi

# One line says which path it took (found / apt / built / cached build / plain PostgreSQL);
# the build tree and its stamp live in $(STATE)/timescaledb, outside .venv. Never fails.
timescaledb: system-packages
	@deploy/install_timescaledb.sh '$(TIMESCALEDB_ARCHIVE)' $(STATE)/timescaledb

# FORCE when the thing itself is gone, so a deleted .venv or libs/ is rebuilt despite the stamp.
$(STAMPS)/venv: pyproject.toml deploy/constraints.txt $(if $(wildcard $(BIN)/python),,FORCE)
	@mkdir -p $(STAMPS)
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c deploy/constraints.txt -e '.[dev]'
	@touch $@

# Fetched beside the live directory and swapped only when different: a running broker keeps
# its jars.
$(STAMPS)/kafka-libs: deploy/kafka/pom.xml $(if $(wildcard $(KAFKA_LIBS)/kafka_2.13-*.jar),,FORCE)
	@mkdir -p $(STAMPS)
	rm -rf $(KAFKA_LIBS).new
	mvn -q -B -Dstyle.color=never -f deploy/kafka/pom.xml dependency:copy-dependencies \
	  -DincludeScope=runtime -DoutputDirectory=$(abspath $(KAFKA_LIBS)).new
	@if diff -rq $(KAFKA_LIBS) $(KAFKA_LIBS).new >/dev/null 2>&1; then \
	  rm -rf $(KAFKA_LIBS).new; \
	else \
	  rm -rf $(KAFKA_LIBS) && mv $(KAFKA_LIBS).new $(KAFKA_LIBS); \
	fi
	@echo "kafka: $$(ls $(KAFKA_LIBS) | wc -l) jars in $(KAFKA_LIBS)"
	@touch $@

test: install
	@rc=0; $(BIN)/pytest $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ] && [ -n "$(NO_TESTS_OK)" ]; then \
	  echo "pytest collected no tests (exit 5): treated as success"; rc=0; \
	fi; \
	exit $$rc

check: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

demo: install
	$(BIN)/greenwatch demo

bench: install
	$(BIN)/python -m bench

# PROFILE_DEVICES devices × 6 minute frames × 8 factors; PROFILE_ARGS=--sink adds PostgreSQL.
# PROFILE_DEVICES=10000 PROFILE_ARGS=--sink is the pipeline benchmark drain's shape; add
#   "--stages --baseline DIR --rounds N" for CPU by stage beside another checkout (main).
PROFILE_DEVICES ?= 2000
PROFILE_ARGS ?=
profile: install
	BENCH_PIPELINE_DEVICES=$(PROFILE_DEVICES) $(BIN)/python -m bench.profile_pipeline $(PROFILE_ARGS)

stack-up: install
	$(BIN)/greenwatch stack up

stack-down:
	@if [ -x $(BIN)/greenwatch ]; then $(BIN)/greenwatch stack down; fi

stack-status:
	$(BIN)/greenwatch stack status

FORCE:
