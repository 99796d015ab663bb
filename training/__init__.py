"""Fine-tuning the generator: its training data, LoRA training, GGUF export, held-out
evaluation and the model card (``python -m training``; requirements/training.txt). The
runtime (models/) never imports it."""
