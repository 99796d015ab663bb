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

# One start for the elapsed time that the installer's and the launcher's lines show.
ifndef PROGRESS_SINCE
export PROGRESS_SINCE := $(shell date +%s.%N)
endif

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# llama.cpp's CPU kernels: portable AVX2 ones (requirements/llama.txt says why). A machine with
# a GPU may build with e.g. LLAMA_CMAKE_ARGS="-DGGML_CUDA=on".
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF

# bot/install.py: both virtualenvs in parallel and llama.cpp for the generator, a line per step
# and live progress, pip's output in var/logs/install/; each step is skipped when its inputs
# have not changed.
INSTALLER = $(PYTHON311) -m bot.install --python311 "$(PYTHON311)" --python310 "$(PYTHON310)" \
	--cmake-args "$(LLAMA_CMAKE_ARGS)"

.PHONY: install envs installer
installer:
	@test -n "$(PYTHON311)" || { echo "Python 3.11 not found (set PYTHON311=...)"; exit 1; }
	@test -n "$(PYTHON310)" || { echo "Python 3.10 not found (set PYTHON310=...)"; exit 1; }

install: installer ## Create both virtualenvs (main 3.11, Rasa 3.10) in parallel, and build llama.cpp for the generator
	@$(INSTALLER)

envs: installer ## Both virtualenvs only (`make run` builds the generator in the background)
	@$(INSTALLER) --no-generator

# The installer's stamp of the main env (rewritten when it installs): for rules that must follow
# a reinstall of the requirements (requirements/main.txt and what it includes).
$(VENV)/.installed: | installer
	@$(INSTALLER) --no-generator

# Feature makefiles (mk/*.mk) add their targets, and system prerequisites to `prepare`.
.PHONY: prepare
prepare:: install
-include mk/*.mk

.PHONY: seed
seed: envs ## Seed the demo ERP into var/erp.db (or ERP_DATABASE_URL)
	$(PY) -m demo seed

.PHONY: train
train: envs ## Train the Rasa model if config.yml, bot/domain or data/ changed
	$(PY) -m bot train

# The launcher gets the llama.cpp build's settings for its background build of the generator.
export LLAMA_CMAKE_ARGS
export PYTHON311
.PHONY: run
run: envs $(if $(filter-out 0 1,$(or $(REPLICAS),1)),balancer) ## Set everything up and start Rasa (5005), actions (5055), gateway (8080) on 127.0.0.1 (PROFILE=production: PostgreSQL, Redis, RabbitMQ)
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
lint: install ## Ruff lint and format check; import boundaries; settings only in settings modules, docs/configuration.md up to date; no runtime import of training or dev requirements
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q -p no:cacheprovider tests/test_boundaries.py tests/test_configuration.py \
		tests/test_requirements.py

.PHONY: configuration
configuration: install ## Write docs/configuration.md from the settings modules (every environment variable)
	$(PY) -m bot.configuration

.PHONY: types
types: install ## mypy on the packages (disallow_untyped_defs)
	$(VENV)/bin/mypy

.PHONY: format
format: install ## Format the code with ruff
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

.PHONY: bench
bench: install ## Measure training time, warm start, NLU cross-validation F1 (first run: bench-first-run; docs/benchmarks.md)
	$(PY) -m benchmarks.startup

.PHONY: clean
clean: ## Remove runtime state under var/ (keeps the virtualenvs)
	rm -rf var/

.PHONY: bench-first-run
bench-first-run: envs ## A new user's `make run` in fresh clones: first ERP and document answers, generator on; cold and warm caches, warm restart (~20 min)
	$(PY) -m benchmarks.first_run --out var/bench/first-run.json
