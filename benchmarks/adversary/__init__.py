"""The adversarial suite: cross-customer attacks on the running assistant, and the leak check.

Used by tests/e2e/test_security.py and `make bench-security` (benchmarks/security.py); the
assistant's own processes never import it.
"""
