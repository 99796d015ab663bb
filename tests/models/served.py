"""Test doubles for models.server: a slow scripted backend, and the server run by uvicorn."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Generator as Stepper
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from models.generator import Limits, _Decoder
from models.server import ServedModel, create_app

TOKEN = "test-generator-token"
WORDS = ["One", " answer", " at", " a", " time."]


class SlowModel(_Decoder):
    """A backend decoding ``words`` (then end of sequence), ``seconds_per_token`` each.

    ``decoded`` counts tokens made; ``running`` is set while an answer is being decoded;
    with ``hold``, every answer waits for that event before its first token.
    """

    name = "slow"

    def __init__(
        self,
        words: list[str] | None = None,
        *,
        seconds_per_token: float = 0.0,
        limits: Limits | None = None,
        hold: threading.Event | None = None,
    ) -> None:
        super().__init__(limits or Limits(max_new_tokens=50))
        self.hold = hold
        self.words = WORDS if words is None else words
        self.seconds_per_token = seconds_per_token
        self.decoded = 0
        self.running = threading.Event()

    def tokenize(self, text: str) -> list[int]:
        return [len(word) for word in text.split()]

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    def _token_texts(self, prompt: str) -> Stepper[str, None, None]:
        self.running.set()
        if self.hold is not None:
            self.hold.wait(30)
        try:
            for word in self.words:
                time.sleep(self.seconds_per_token)
                self.decoded += 1
                yield word
        finally:
            self.running.clear()


@contextmanager
def serve(
    model: ServedModel, *, queue: int = 2, token: str = TOKEN, port: int = 0
) -> Iterator[str]:
    """Serve ``model`` with models.server's app on loopback ``port`` (default: a free one);
    yield the base URL."""
    app = create_app(lambda: model, token, queue=queue, model_label="test-model")
    sock = socket.socket()
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(app, lifespan="on", log_level="warning", loop="asyncio", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        deadline = time.monotonic() + 10
        while not _healthy(url):
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the generator server did not become healthy within 10 s")
            time.sleep(0.02)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
