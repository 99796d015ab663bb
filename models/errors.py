"""The generator's errors: one hierarchy, turned into an extractive answer by the caller."""

from __future__ import annotations


class GeneratorError(Exception):
    """Something about the generator failed; the caller answers without it."""


class ModelNotFound(GeneratorError):
    """A base model, adapter or converter that the configuration names is not there."""


class ConversionFailed(GeneratorError):
    """Converting a checkpoint or an adapter (to Hugging Face or GGUF form) failed."""


class GeneratorBusy(GeneratorError):
    """The generator's queue is full, or it stayed busy for as long as the caller would wait.

    ``retry_after`` is the server's hint, in seconds, of when asking again may succeed.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PromptTooLong(GeneratorError):
    """The prompt leaves no room for the answer in the model's context."""
