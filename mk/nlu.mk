# NLU pipeline (issue 7): the ONNX sentence encoder it reads, and its benchmark against
# Rasa's default pipeline on CLINC150 and Banking77 (docs/benchmarks.md).

.PHONY: encoder bench-nlu bench-nlu-zh
encoder: install ## Assemble and export config.yml's sentence encoder (all-mpnet-base-v2) to ONNX in var/encoders (training does it too)
	$(PY) -m bot export-encoder

# QUICK=1: a few intents, examples and epochs of CLINC150 and Banking77 (a couple of minutes).
bench-nlu: install ## Our NLU pipeline vs Rasa's default on CLINC150 + Banking77 (hours; QUICK=1 minutes)
	$(PY) -m benchmarks.nlu $(if $(QUICK),--quick)

# VARIANTS="jieba chars": only those (whitespace, chars, jieba, jieba-no-encoder).
bench-nlu-zh: install ## The bot's NLU on held-out Chinese (+ English) utterances: tokenizer and encoder variants (~10 min)
	$(PY) -m benchmarks.nlu_zh $(VARIANTS)
