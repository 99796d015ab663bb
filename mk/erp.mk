# ERP layer (issue 14): the shipped mappings on SQLite, PostgreSQL and MariaDB, and the
# latency of each concept's query there. tests/erp/test_mapping_backends.py runs in `make test`.

ERP_BENCH_ARGS ?=

.PHONY: bench-erp
bench-erp: install ## ERP query latency per concept: demo, Northwind, classicmodels on SQLite, PostgreSQL, MariaDB (docs/benchmarks.md)
	bash scripts/services.sh
	$(PY) -m benchmarks.erp_mapping --json var/bench/erp_mapping.json $(ERP_BENCH_ARGS)

.PHONY: bench-writes
bench-writes: install ## Confirmed writes with duplicate deliveries: changes made, duplicates prevented, p95 per database (docs/benchmarks.md)
	bash scripts/services.sh
	$(PY) -m benchmarks.erp_writes --json var/bench/writes.json

.PHONY: bench-forecast
bench-forecast: install ## Stock-out forecast backtest: days-of-cover MAE, smoothing vs a 28-day mean, over past weeks of the demo (docs/benchmarks.md)
	$(PY) -m benchmarks.erp_forecast --json var/bench/forecast.json

.PHONY: bench-alternatives
bench-alternatives: install ## Out-of-stock alternatives: precision@3 of embedding similarity vs a name-overlap baseline, 139 products judged by hand (docs/benchmarks.md)
	$(PY) -m benchmarks.alternatives --json var/bench/alternatives.json
