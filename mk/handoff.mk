# Human handoff (issue 6): the frustration model and the handoff figures.

.PHONY: frustration-model
frustration-model: install ## Train the handoff frustration classifier (var/handoff/); the gateway also does at first use
	$(PY) -m connectors.handoff.sentiment train

.PHONY: bench-handoff
bench-handoff: install ## Handoff figures: classifier precision/recall, trigger-to-queue p95, restart losses (docs/benchmarks.md)
	$(PY) -m connectors.handoff.sentiment evaluate
	$(PY) -m benchmarks.handoff
	$(PY) -m benchmarks.agents --runs 20
