# Load (issue 13): locust users holding realistic web chat conversations with a fresh
# assistant, generator on and off (docs/load.md). A 2-user run is in tests/benchmarks/test_load.py.

USERS ?= 10,50,100
DURATION ?= 60
LOAD_ARGS ?=
# QUICK=1: a smoke run of a few minutes (stack starts included) instead of the full matrix.
ifeq ($(QUICK),1)
USERS := 5
DURATION := 20
endif

.PHONY: bench-load
bench-load: install ## Load test: locust web chat users (USERS=10,50,100, DURATION=60 s), generator on and off; QUICK=1 for 5 users, 20 s (docs/load.md)
	$(PY) -m bot setup
	$(PY) -m benchmarks.load.run --users $(USERS) --duration $(DURATION) --out var/bench/load.json $(LOAD_ARGS)
