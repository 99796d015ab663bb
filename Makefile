# The one entry point: `make help` lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
RASA_VENV := .venv-rasa
PY        := $(VENV)/bin/python
RASA      := $(RASA_VENV)/bin/rasa
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONDONTWRITEBYTECODE := 1
export RASA_CACHE_DIRECTORY := $(CURDIR)/var/rasa-cache

# Rasa 3.6 needs Python 3.10; the rest of the project runs on 3.11.
PYTHON311 ?= $(shell for p in python3.11 $$HOME/.pyenv/versions/3.11*/bin/python3.11 /usr/bin/python3.11; do \
	$$p -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null && { echo $$p; break; }; done)
PYTHON310 ?= $(shell for p in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10 /usr/bin/python3.10; do \
	$$p -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && { echo $$p; break; }; done)

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# llama.cpp's CPU kernels: portable AVX2 ones (requirements/llama.txt says why). A machine with
# a GPU may build with e.g. LLAMA_CMAKE_ARGS="-DGGML_CUDA=on".
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF

$(VENV)/.installed: requirements/main.txt requirements/encoder.txt requirements/llama.txt
	@test -n "$(PYTHON311)" || { echo "Python 3.11 not found (set PYTHON311=...)"; exit 1; }
	test -d $(VENV) || $(PYTHON311) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements/main.txt
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(VENV)/bin/pip install -q --no-cache-dir -r requirements/llama.txt
	$(VENV)/bin/pip install -q --no-deps --require-hashes -r requirements/encoder.txt
	touch $@

$(RASA_VENV)/.installed: requirements/rasa.txt
	@test -n "$(PYTHON310)" || { echo "Python 3.10 not found (set PYTHON310=...)"; exit 1; }
	test -d $(RASA_VENV) || $(PYTHON310) -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/pip install -q --upgrade pip wheel 'setuptools<70'
	$(RASA_VENV)/bin/pip install -q -r requirements/rasa.txt
	touch $@

.PHONY: install
install: $(VENV)/.installed $(RASA_VENV)/.installed ## Create both virtualenvs (main 3.11, Rasa 3.10) and install

# Feature makefiles (mk/*.mk) add their targets, and system prerequisites to `prepare`.
.PHONY: prepare
prepare:: install
-include mk/*.mk

.PHONY: seed
seed: install ## Seed the demo ERP into var/erp.db (or ERP_DATABASE_URL)
	$(PY) -m erp seed

.PHONY: train
train: install ## Train the Rasa model if config.yml, bot/domain or data/ changed
	$(PY) -m bot train

.PHONY: run
run: prepare ## Set everything up and start Rasa (5005), actions (5055), gateway (8080) on 127.0.0.1 (PROFILE=production: PostgreSQL, Redis, RabbitMQ)
	$(PY) -m bot run

.PHONY: validate
validate: install ## Check the Rasa domain and training data
	$(RASA) data validate --config config.yml --domain bot/domain \
		--data data/nlu data/stories data/rules

.PHONY: test
test: prepare ## Set up, then run the whole suite (unit, erp on 3 databases, Rasa stories, e2e)
	bash scripts/services.sh
	$(MAKE) --no-print-directory lint types validate
	$(PY) -m bot setup
	$(RASA) test core --model var/models --stories tests/test_stories.yml \
		--fail-on-prediction-errors --out var/results/stories
	$(PY) -m pytest -q -p no:cacheprovider

.PHONY: lint
lint: install ## Ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

.PHONY: types
types: install ## mypy on the packages (disallow_untyped_defs)
	$(VENV)/bin/mypy

.PHONY: format
format: install ## Format the code with ruff
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

.PHONY: bench
bench: install ## Measure cold/warm start, training time, NLU cross-validation F1 (docs/benchmarks.md)
	$(PY) -m bot bench

.PHONY: clean
clean: ## Remove runtime state under var/ (keeps the virtualenvs)
	rm -rf var/
