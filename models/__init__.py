"""The generator: training data, prompts, LoRA fine-tuning, serving and the grounding guard."""
