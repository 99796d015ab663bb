"""The generator's errors: one hierarchy, turned into an extractive answer by the caller."""

from __future__ import annotations


class GeneratorError(Exception):
    """Something about the generator failed; the caller answers without it."""


class ModelNotFound(GeneratorError):
    """A base model, adapter or converter that the configuration names is not there."""


class ConversionFailed(GeneratorError):
    """Converting a checkpoint or an adapter (to Hugging Face or GGUF form) failed."""
