# The fine-tuned generator (issue 5): data, LoRA training, GGUF export, evaluation, speed.

GENERATOR_TRAIN_ARGS ?=
GENERATOR_EVAL_ARGS ?=

.PHONY: train-generator generator-data bench-generator bench-generator-zh
generator-data: install ## Build the generator's train/held-out examples in var/generator/data
	$(PY) -m training build-data

train-generator: generator-data ## Fine-tune the generator (LoRA, resumable), export it to GGUF, evaluate it (~1 h on 2 cores)
	$(PY) -m training train --resume $(GENERATOR_TRAIN_ARGS)
	$(PY) -m training export
	$(PY) -m training evaluate $(GENERATOR_EVAL_ARGS)

bench-generator: install ## Generator speed: tokens/s and time to first token per backend (model card)
	$(PY) -m benchmarks.generator

bench-generator-zh: install ## Generator on Chinese ERP questions vs English: guard, required facts, answer language (var/results)
	$(PY) -m benchmarks.generator_zh
