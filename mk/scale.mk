# Scale-out (issue 16): HAProxy from Debian in front of gateway, Rasa and action server replicas
# (REPLICAS=2 PROFILE=production make run); tests/e2e/test_replicas.py and the short scaling
# and fault runs (tests/e2e/test_scale_short.py, what `make bench-scale-short` runs) are in `make test`.

.PHONY: balancer
balancer: ## Install Debian's haproxy if missing (REPLICAS > 1, replica tests)
	@test -x /usr/sbin/haproxy || { \
		echo "installing haproxy from Debian"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			haproxy >/dev/null; }

prepare:: balancer

.PHONY: bench-scale
bench-scale: prepare ## Production profile, 1 vs 2 replicas of gateway, Rasa and actions under locust users, then faults during load (docs/benchmarks.md)
	bash scripts/services.sh
	$(PY) -m benchmarks.scale --out var/bench/scale.json

.PHONY: bench-scale-short
bench-scale-short: prepare ## Both, short: 4 users 20 s on 1 and 2 replicas, then a fault every 8 s (~4 min; what CI runs, restarts PostgreSQL/Redis/RabbitMQ)
	bash scripts/services.sh
	$(PY) -m benchmarks.scale --short --out var/bench/scale-short.json
