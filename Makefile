# Every target creates .venv with Python 3.11 or newer when it is missing and
# installs the kit with its dev extras, so a fresh clone needs no other step.

PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
CHECKED := helpers tests notebooks benchmarks

.PHONY: demo test lint lab up status teardown down bench clean

$(INSTALLED): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is required" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

demo: $(INSTALLED)
	$(BIN)/python -m helpers.cli demo

lint: $(INSTALLED)
	$(BIN)/ruff check $(CHECKED)
	$(BIN)/ruff format --check $(CHECKED)

test: lint
	$(BIN)/pytest tests $(NOTEBOOKS) --nbval --nbval-sanitize-with notebooks/sanitize.cfg

# JupyterLab refuses to run as root without --allow-root, as in containers.
LAB_FLAGS := --ip=127.0.0.1 $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(INSTALLED)
	$(BIN)/jupyter lab $(LAB_FLAGS) notebooks/

up: $(INSTALLED)
	@$(BIN)/python -m helpers.cli up

status: $(INSTALLED)
	@$(BIN)/python -m helpers.cli status

teardown: $(INSTALLED)
	@$(BIN)/python -m helpers.cli teardown $(if $(TARGET),--target $(TARGET)) \
		$(if $(REGION),--region $(REGION)) $(if $(PROFILE),--profile $(PROFILE)) \
		$(if $(STACK),--stack $(STACK))

down: $(INSTALLED)
	@$(BIN)/python -m helpers.cli down

bench: $(INSTALLED)
	$(BIN)/python -m benchmarks.run

clean: down
	rm -rf $(VENV) .lab
