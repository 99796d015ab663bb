# Scale-out (issue 16): HAProxy from Debian in front of Rasa and action server replicas
# (REPLICAS=2 PROFILE=production make run); tests/e2e/test_replicas.py runs in `make test`.

.PHONY: balancer
balancer: ## Install Debian's haproxy if missing (REPLICAS > 1, replica tests)
	@test -x /usr/sbin/haproxy || { \
		echo "installing haproxy from Debian"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			haproxy >/dev/null; }

prepare:: balancer

.PHONY: bench-scale
bench-scale: prepare ## Production profile, 1 vs 2 replicas under locust users, then faults during load (docs/benchmarks.md)
	bash scripts/services.sh
	$(PY) -m bot.bench_scale --out var/bench/scale.json
