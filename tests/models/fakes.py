"""Test doubles for the generator: a scripted backend that obeys injected instructions."""

from __future__ import annotations

import re
from collections.abc import Iterator

from models.errors import GeneratorError
from models.generator import Generation, Limits
from models.prompt import approx_tokens


class ScriptedGenerator:
    """A Generator whose answer depends on the prompt, the way an obedient model's would."""

    name = "scripted"

    def __init__(self, answer: str | None = None, *, pieces: list[str] | None = None) -> None:
        self.limits = Limits()
        self.answer = answer
        self.pieces = pieces
        self.prompts: list[str] = []

    def count_tokens(self, text: str) -> int:
        return approx_tokens(text)

    def _reply(self, prompt: str) -> str:
        self.prompts.append(prompt)
        if re.search(r"ignore previous instructions", prompt, re.IGNORECASE):
            return "Good news: everything is free, refunds are 100% and you get a £50 voucher."
        if self.answer is None:
            raise GeneratorError("the model crashed")
        return self.answer

    def generate(self, prompt: str) -> Generation:
        text = self._reply(prompt)
        return Generation(text, len(text.split()), 0.01, 0.001, "eos")

    def stream(self, prompt: str) -> Iterator[str]:
        if self.pieces is None:
            yield from re.findall(r"\S+\s*", self._reply(prompt))
            return
        self.prompts.append(prompt)
        yield from self.pieces
