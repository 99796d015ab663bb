"""`RemoteGenerator`: the `Generator` interface over HTTP, to a models.server process.

Callers use it as they used an in-process backend (``generate``, ``stream``,
``count_tokens``); every failure of the server or the network becomes a `GeneratorError`
(`GeneratorBusy` when the server's queue is full), which the caller answers with its own
template or extractive reply. One instance is shared by every thread of a process: httpx
pools its connections, and nothing else in it changes after construction but a small,
locked cache of token counts.

Example:
    >>> generator = remote_generator(GeneratorSettings.from_env())
    >>> if generator is not None:
    ...     print(generator.generate(prompt, wait_seconds=0.3).text)
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any, cast

import httpx

from models.errors import GeneratorBusy, GeneratorError
from models.generator import Generation, Limits, StopReason
from models.settings import GeneratorSettings

TOKEN_CACHE_SIZE = 1024
# A refused connection is known at once; an unreachable host must not hold a turn long.
CONNECT_SECONDS = 2.0
STOP_REASONS = frozenset({"eos", "stop", "max_tokens", "time"})
FINISH_TO_STOP: dict[str, StopReason] = {"stop": "eos", "length": "max_tokens"}


class RemoteGenerator:
    """A `models.generator.Generator` whose model runs in a `models.server` process.

    Args:
        url: The server's base URL, e.g. ``http://127.0.0.1:5006``.
        token: The server's bearer token (GENERATOR_TOKEN).
        limits: What callers may read as the model's limits (the server applies its own).
        timeout: Most seconds to wait for the server at any one time (a reply, or the next
            piece of a stream), queueing included.
        wait_seconds: How long, by default, a request may wait for a busy model before
            the server refuses it (None: the server's default).

    Example:
        >>> generator = RemoteGenerator("http://127.0.0.1:5006", token, Limits(), timeout=30)
        >>> "".join(generator.stream(prompt))
    """

    name = "remote"

    def __init__(
        self,
        url: str,
        token: str,
        limits: Limits,
        *,
        timeout: float,
        wait_seconds: float | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"the generator URL must start with http:// or https://, got {url!r}")
        if timeout <= 0:
            raise ValueError(f"timeout must be greater than 0, got {timeout}")
        if wait_seconds is not None and wait_seconds < 0:
            raise ValueError(f"wait_seconds must be at least 0, got {wait_seconds}")
        self.url = url.rstrip("/")
        self.limits = limits
        self.wait_seconds = wait_seconds
        self._client = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(timeout, connect=min(CONNECT_SECONDS, timeout)),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
            transport=transport,
        )
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._counts_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RemoteGenerator({self.url!r})"  # never the token

    def close(self) -> None:
        """Close the pooled connections."""
        self._client.close()

    def __enter__(self) -> RemoteGenerator:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` without special tokens, as the served model counts them.

        Raises:
            GeneratorError: The server cannot be reached or answers badly.
        """
        with self._counts_lock:
            if text in self._counts:
                self._counts.move_to_end(text)
                return self._counts[text]
        reply = self._post("/tokenize", {"content": text})
        tokens = reply.get("tokens")
        if not isinstance(tokens, list):
            raise GeneratorError("the generator's /tokenize reply has no token list")
        with self._counts_lock:
            self._counts[text] = len(tokens)
            if len(self._counts) > TOKEN_CACHE_SIZE:
                self._counts.popitem(last=False)
        return len(tokens)

    def generate(self, prompt: str, *, wait_seconds: float | None = None) -> Generation:
        """The whole answer to ``prompt`` with its timings.

        Raises:
            GeneratorBusy: The model is busy and the server's queue is full, or it stayed
                busy for ``wait_seconds``.
            GeneratorError: Anything else went wrong (unreachable, timeout, a bad reply).
        """
        reply = self._post("/v1/completions", self._body(prompt, wait_seconds, stream=False))
        try:
            choice = reply["choices"][0]
            text = choice["text"]
            usage = reply["usage"]
            if not isinstance(text, str):
                raise TypeError("text is not a string")
            return _generation(text.strip(), usage, reply.get("timings"), choice["finish_reason"])
        except (KeyError, IndexError, TypeError, ValueError) as error:
            raise GeneratorError(f"the generator's reply is malformed: {error!r}") from None

    def stream(self, prompt: str, *, wait_seconds: float | None = None) -> Iterator[str]:
        """The answer to ``prompt`` piece by piece, as the server decodes it.

        Closing the iterator early closes the connection, which stops the server decoding.

        Raises:
            GeneratorBusy: As for `generate`, before the first piece.
            GeneratorError: As for `generate`, or the stream broke or ended early.
        """
        body = self._body(prompt, wait_seconds, stream=True)
        try:
            with self._client.stream("POST", "/v1/completions", json=body) as response:
                if response.status_code != 200:
                    response.read()
                    raise _status_error(response)
                yield from _sse_pieces(response.iter_lines())
        except httpx.HTTPError as error:
            raise _transport_error(error) from error

    def _body(self, prompt: str, wait_seconds: float | None, *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"prompt": prompt, "stream": stream}
        wait = self.wait_seconds if wait_seconds is None else wait_seconds
        if wait is not None:
            body["wait_seconds"] = wait
        return body

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._client.post(path, json=body)
        except httpx.HTTPError as error:
            raise _transport_error(error) from error
        if response.status_code != 200:
            raise _status_error(response)
        try:
            reply = response.json()
        except ValueError:
            raise GeneratorError(f"the generator's reply to {path} is not JSON") from None
        if not isinstance(reply, dict):
            raise GeneratorError(f"the generator's reply to {path} is not a JSON object")
        return reply


def _sse_pieces(lines: Iterator[str]) -> Iterator[str]:
    """The text pieces of a completions event stream, up to ``data: [DONE]``."""
    finished = False
    for line in lines:
        if not line.startswith("data:"):
            continue  # blank separators, comments, other fields
        data = line[5:].strip()
        if data == "[DONE]":
            if not finished:
                raise GeneratorError("the generator's stream ended without a finish reason")
            return
        try:
            event = json.loads(data)
            if "error" in event:
                raise GeneratorError(f"the generator failed: {_message(event)}")
            choice = event["choices"][0]
            text = choice["text"]
            if not isinstance(text, str):
                raise TypeError("text is not a string")
        except (ValueError, KeyError, IndexError, TypeError) as error:
            raise GeneratorError(f"the generator's stream is malformed: {error!r}") from None
        if text:
            yield text
        finished = finished or choice.get("finish_reason") is not None
    raise GeneratorError("the generator's stream ended early")


def _generation(
    text: str, usage: dict[str, Any], timings: dict[str, Any] | None, finish: str
) -> Generation:
    timings = timings or {}
    stopped_by = timings.get("stopped_by")
    if stopped_by not in STOP_REASONS:
        stopped_by = FINISH_TO_STOP.get(finish, "eos")
    first = timings.get("first_token_seconds")
    return Generation(
        text=text,
        tokens=int(usage["completion_tokens"]),
        seconds=float(timings.get("seconds", 0.0)),
        first_token_seconds=None if first is None else float(first),
        stopped_by=cast(StopReason, stopped_by),
    )


def _message(reply: object) -> str:
    if isinstance(reply, dict) and isinstance(reply.get("error"), dict):
        return str(reply["error"].get("message", "no message"))
    return "no message"


def _status_error(response: httpx.Response) -> GeneratorError:
    """The error for a reply other than 200: busy (429) or anything else."""
    try:
        message = _message(response.json())
    except ValueError:
        message = response.text[:200] or "no message"
    if response.status_code == 429:
        retry = response.headers.get("retry-after", "")
        return GeneratorBusy(
            f"the generator is busy: {message}",
            retry_after=float(retry) if retry.isdigit() else None,
        )
    return GeneratorError(f"the generator answered {response.status_code}: {message}")


def _transport_error(error: httpx.HTTPError) -> GeneratorError:
    if isinstance(error, httpx.TimeoutException):
        return GeneratorError(f"the generator did not answer in time ({type(error).__name__})")
    return GeneratorError(f"cannot reach the generator: {type(error).__name__}: {error}")


_remotes: dict[tuple[str, str, Limits, float, float | None], RemoteGenerator] = {}
_remotes_lock = threading.Lock()


def remote_generator(
    settings: GeneratorSettings | None = None, *, wait_seconds: float | None = None
) -> RemoteGenerator | None:
    """The configured generator server's client, one per configuration and process.

    None when GENERATOR_BACKEND=off or GENERATOR_URL is empty (the caller answers without a
    generator). ``wait_seconds``: the default wait for a busy model of every request.

    Raises:
        ValueError: GENERATOR_URL is set but GENERATOR_TOKEN is not, or the URL is not HTTP.
    """
    settings = settings or GeneratorSettings.from_env()
    if not settings.enabled or not settings.url:
        return None
    if not settings.token:
        raise ValueError("GENERATOR_TOKEN must be set when GENERATOR_URL is")
    limits = Limits(max_new_tokens=settings.max_new_tokens, max_seconds=settings.max_seconds)
    # Long enough for every answer ahead in the server's queue and this one.
    timeout = settings.max_seconds * (settings.queue + 1) + 5.0
    key = (settings.url, settings.token, limits, timeout, wait_seconds)
    with _remotes_lock:
        if key not in _remotes:
            _remotes[key] = RemoteGenerator(
                settings.url, settings.token, limits, timeout=timeout, wait_seconds=wait_seconds
            )
        return _remotes[key]
