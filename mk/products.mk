# Product names (issue 13): how often a customer's question finds the product they named.
# A quick sample runs as tests/erp/test_product_names.py in `make test`.

PRODUCTS_ARGS ?=

.PHONY: bench-products
bench-products: install ## Product names: 400 held-out customer questions over the demo catalogue, right answers and choices (docs/benchmarks.md)
	mkdir -p var/results
	$(PY) -m benchmarks.erp_products --json var/results/products.json $(PRODUCTS_ARGS)
