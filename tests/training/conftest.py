"""The tiny Gemma-3 and its LoRA adapter, shared with the generator's tests (tests/models)."""

from tests.models.conftest import tiny, tiny_adapter

__all__ = ["tiny", "tiny_adapter"]
