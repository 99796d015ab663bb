# Scale-out (issue 16): HAProxy from Debian in front of Rasa and action server replicas
# (REPLICAS=2 PROFILE=production make run); tests/e2e/test_replicas.py runs in `make test`.

.PHONY: balancer
balancer: ## Install Debian's haproxy if missing (REPLICAS > 1, replica tests)
	@test -x /usr/sbin/haproxy || { \
		echo "installing haproxy from Debian"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			haproxy >/dev/null; }

prepare:: balancer
