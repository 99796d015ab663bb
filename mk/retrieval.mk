# Document retrieval (issue 3): the index of data/docs and its benchmarks.

.PHONY: index bench-retrieval bench-index-scale
index: install ## Build or update the document index in var/index (only changed documents are embedded)
	$(PY) -m retrieval index

bench-retrieval: install ## Retrieval quality on StackFAQ and data/eval, refusal calibration, embedding speed
	$(PY) -m benchmarks.retrieval quality

SIZE ?= 1000000
bench-index-scale: install ## Approximate vs exact FAISS search on SIZE clustered vectors (default 1M; minutes)
	$(PY) -m benchmarks.retrieval scale --size $(SIZE)
