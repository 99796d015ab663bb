# Security (issue 12): the adversarial suite's figures. The same catalogue runs as
# tests/e2e/test_security.py in `make test`.

SECURITY_ARGS ?=

.PHONY: bench-security
bench-security: install ## Adversarial suite on a fresh stack: attempts, leaks, breaches, errors, lockouts per family (docs/security.md)
	$(PY) -m bot setup
	mkdir -p var/results
	$(PY) -m benchmarks.security --json var/results/security.json $(SECURITY_ARGS)
