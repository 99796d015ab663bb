"""`python -m models.server`: the generator in a process of its own, over OpenAI-style HTTP.

The model is loaded once, at startup, and answers one request at a time (see
models.generator); in front of it a bounded queue: at most GENERATOR_QUEUE requests wait
while one runs, and one more is refused at once with 429 and a Retry-After, so a caller
falls back to its template answer instead of queueing behind a crowd. Routes:

- ``GET /health``: 200 with the queue's state once the model is loaded, 503 before (open).
- ``POST /v1/completions``: OpenAI's legacy completions, streamed as server-sent events
  when ``"stream": true``; decoding is greedy, ``max_tokens`` only lowers
  GENERATOR_MAX_NEW_TOKENS, ``stop`` adds to the trained stop sequences, and the extension
  ``wait_seconds`` says how long the caller will wait for the model (0: only if free now).
- ``POST /tokenize``: ``{"content"}`` -> ``{"tokens"}`` as llama.cpp's server answers it,
  without waiting for the model.

Every route but /health needs ``Authorization: Bearer $GENERATOR_TOKEN``. Decoding runs in
a worker thread and hands its pieces to the event loop through a queue; a streaming client
that disconnects stops decoding at its next piece. Listens on 127.0.0.1 unless told
otherwise (GENERATOR_HOST, ``--host``): see docs/serving.md for running it on a GPU machine.

Example:
    $ GENERATOR_TOKEN=s3cret python -m models.server --port 5006
    $ curl -H 'Authorization: Bearer s3cret' -d '{"prompt": "..."}' localhost:5006/v1/completions
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import hmac
import json
import logging
import math
import os
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from collections.abc import Generator as Stepper
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from envvars import SettingsError
from models.errors import GeneratorError, PromptTooLong
from models.generator import Generation, Limits
from models.priority import set_autogroup_nice
from models.settings import HOST, LOG_LEVEL, TOKEN, GeneratorSettings

log = logging.getLogger("models.server")

TOKEN_ENV = TOKEN.name
MAX_BODY_BYTES = 64 * 1024
# A caller may ask to wait longer than the default, within reason.
MAX_WAIT_SECONDS = 600.0
MAX_STOPS = 8
FINISH_REASONS = {"eos": "stop", "stop": "stop", "max_tokens": "length", "time": "length"}


@runtime_checkable
class ServedModel(Protocol):
    """What the server needs of a backend: models.generator's in-process ones have it."""

    name: str
    limits: Limits

    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` without special tokens, without waiting for the model."""
        ...

    def pieces(
        self, prompt: str, *, limits: Limits | None = None
    ) -> Stepper[str, None, Generation]:
        """The answer piece by piece; the generator returns its `Generation`."""
        ...


class InvalidRequest(ValueError):
    """A request body the server cannot act on; the message says what was wrong."""


class Busy(Exception):
    """The queue is full, or the model stayed busy for as long as the caller would wait."""


@dataclass(frozen=True)
class CompletionRequest:
    """A validated ``POST /v1/completions`` body."""

    prompt: str
    limits: Limits
    stream: bool
    wait_seconds: float


def parse_completion(body: bytes, limits: Limits, *, default_wait: float) -> CompletionRequest:
    """Validate a completions body against the configured ``limits``.

    ``max_tokens`` may only lower ``limits.max_new_tokens``; ``stop`` (a string or a list of
    strings) adds to ``limits.stop``; temperature, top_p and other OpenAI fields are accepted
    and ignored (decoding is greedy: the model was evaluated that way).

    Raises:
        InvalidRequest: The body is not a JSON object or a field has the wrong type or value.

    Example:
        >>> parse_completion(b'{"prompt": "Q", "max_tokens": 8}', Limits(), default_wait=1.0)
        CompletionRequest(prompt='Q', limits=Limits(max_new_tokens=8, ...), ...)
    """
    payload = _json_object(body)
    prompt = payload.get("prompt")
    if not isinstance(prompt, str):
        raise InvalidRequest(f"prompt must be a string, got {_json_type(prompt)}")
    if not prompt.strip():
        raise InvalidRequest("prompt must not be empty")
    max_tokens = payload.get("max_tokens")
    if max_tokens is None:
        max_tokens = limits.max_new_tokens
    elif not _is_int(max_tokens) or max_tokens <= 0:
        raise InvalidRequest(f"max_tokens must be a whole number above 0, got {max_tokens!r}")
    stream = payload.get("stream", False)
    if not isinstance(stream, bool):
        raise InvalidRequest(f"stream must be true or false, got {_json_type(stream)}")
    stops = payload.get("stop")
    stops = [] if stops is None else [stops] if isinstance(stops, str) else stops
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise InvalidRequest("stop must be a non-empty string or a list of them")
    if len(stops) > MAX_STOPS:
        raise InvalidRequest(f"stop may hold at most {MAX_STOPS} sequences, got {len(stops)}")
    wait = payload.get("wait_seconds", default_wait)
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not wait >= 0:
        raise InvalidRequest(f"wait_seconds must be a number of at least 0, got {wait!r}")
    request_limits = dataclasses.replace(
        limits,
        max_new_tokens=min(int(max_tokens), limits.max_new_tokens),
        stop=limits.stop + tuple(s for s in stops if s not in limits.stop),
    )
    return CompletionRequest(prompt, request_limits, stream, min(float(wait), MAX_WAIT_SECONDS))


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("the body must be a JSON object") from None
    if not isinstance(payload, dict):
        raise InvalidRequest(f"the body must be a JSON object, got {_json_type(payload)}")
    return payload


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _json_type(value: object) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names.update({list: "an array", dict: "an object", type(None): "null"})
    return names.get(type(value), type(value).__name__)


class Gate:
    """One request at a time on the model, at most ``queue`` waiting; used on the event loop.

    A request that finds the model busy and the queue full, or that would wait longer than
    it said it would, gets `Busy` at once; a release hands the model to the oldest waiter.
    """

    def __init__(self, queue: int) -> None:
        if queue < 0:
            raise ValueError(f"queue must be at least 0, got {queue}")
        self.queue = queue
        self.busy = False
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        """Requests waiting for the model now."""
        return sum(not waiter.done() for waiter in self._waiters)

    async def acquire(self, wait_seconds: float) -> None:
        """Take the model, waiting at most ``wait_seconds`` in the queue.

        Raises:
            Busy: The queue is full, or the wait ran out first.
        """
        if not self.busy:
            self.busy = True
            return
        if wait_seconds <= 0:
            raise Busy("the model is busy")
        if self.waiting >= self.queue:
            raise Busy(f"the model is busy and {self.waiting} request(s) already wait for it")
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), wait_seconds)
        except (TimeoutError, asyncio.CancelledError) as stopped:
            if waiter.done():  # handed the model just as the wait ended: pass it on
                self.release()
            else:
                waiter.cancel()
                self._waiters.remove(waiter)
            if isinstance(stopped, TimeoutError):
                raise Busy(f"the model stayed busy for {wait_seconds:g} s") from None
            raise

    def release(self) -> None:
        """Hand the model to the oldest waiter still waiting, or mark it free."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.busy = False


@dataclass(frozen=True)
class _Done:
    generation: Generation
    prompt_tokens: int


_Event = str | _Done | GeneratorError


class _Job:
    """One completion decoded in the worker thread; its pieces reach the loop in ``events``."""

    def __init__(
        self,
        model: ServedModel,
        request: CompletionRequest,
        *,
        loop: asyncio.AbstractEventLoop,
        finished: Callable[[_Job], None],
    ) -> None:
        self.model = model
        self.request = request
        self.events: asyncio.Queue[_Event] = asyncio.Queue()
        self.outcome = "error"
        self.result: _Done | None = None
        self._cancel = threading.Event()
        self._loop = loop
        self._finished = finished

    def cancel(self) -> None:
        """Stop decoding at the next piece (the client went away); safe from any thread."""
        self._cancel.set()

    def run(self) -> None:
        """Decode in the calling (worker) thread; the model is freed before it returns."""
        steps: Stepper[str, None, Generation] | None = None
        try:
            prompt_tokens = len(self.model.tokenize(self.request.prompt))
            steps = self.model.pieces(self.request.prompt, limits=self.request.limits)
            while not self._cancel.is_set():
                try:
                    piece = next(steps)
                except StopIteration as done:
                    self.result = _Done(done.value, prompt_tokens)
                    self.outcome = "served"
                    self._emit(self.result)
                    return
                self._emit(piece)
            self.outcome = "cancelled"
        except GeneratorError as error:
            self._emit(error)
        except Exception as error:  # noqa: BLE001 - one request fails, the server stays up
            log.exception("the model failed on a request")
            self._emit(GeneratorError(f"the model failed: {type(error).__name__}: {error}"))
        finally:
            if steps is not None:
                steps.close()  # releases the model's own lock mid-answer too
            self._call(self._finished, self)

    def _emit(self, event: _Event) -> None:
        self._call(self.events.put_nowait, event)

    def _call(self, function: Callable[[Any], None], argument: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: the server is stopping
            self._loop.call_soon_threadsafe(function, argument)


@dataclass
class _State:
    """What the app knows: the model once loaded, the gate, counters for /health."""

    gate: Gate
    model: ServedModel | None = None
    served: int = 0
    rejected: int = 0
    cancelled: int = 0
    seconds_per_answer: float = 1.0
    loop: asyncio.AbstractEventLoop | None = None
    executor: ThreadPoolExecutor | None = None
    jobs: set[_Job] = dataclasses.field(default_factory=set)


def create_app(
    load: Callable[[], ServedModel],
    token: str,
    *,
    queue: int = 2,
    model_label: str = "",
    on_load_failure: Callable[[BaseException], None] | None = None,
) -> Starlette:
    """The server's app; ``load`` runs once in a thread when the app starts.

    Args:
        load: Builds the model (e.g. ``models.generator.load_generator`` for a setting).
        token: The bearer token every route but /health requires.
        queue: How many requests may wait while one runs.
        model_label: The ``model`` named in replies and /health (default: the backend's name).
        on_load_failure: Called with the error when ``load`` raises (main stops the server).

    Raises:
        ValueError: ``token`` is empty or ``queue`` negative.
    """
    if not token:
        raise ValueError(f"the generator's server needs a token ({TOKEN_ENV}), got an empty one")
    state = _State(Gate(queue))
    expected = token.encode("utf-8", "replace")

    def label() -> str:
        return model_label or (state.model.name if state.model is not None else "")

    def load_model() -> None:
        started = time.perf_counter()
        try:
            model = load()
            if not isinstance(model, ServedModel):
                raise GeneratorError(f"{type(model).__name__} cannot be served (no tokenize)")
        except BaseException as error:  # noqa: BLE001 - reported, and the server stops
            log.error("cannot load the generator: %s", error)
            if on_load_failure is not None:
                on_load_failure(error)
            return
        state.model = model
        log.info("generator %s ready in %.1f s", label(), time.perf_counter() - started)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.loop = asyncio.get_running_loop()
        # One worker: the gate lets one answer through at a time, and a model used from one
        # thread is what both backends were measured with.
        state.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="generator")
        threading.Thread(target=load_model, name="generator-load", daemon=True).start()
        try:
            yield
        finally:
            for job in list(state.jobs):
                job.cancel()
            state.executor.shutdown(wait=False, cancel_futures=True)

    def authorised(request: Request) -> Response | None:
        scheme, _, value = request.headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            log.warning("refused %s: no bearer token", request.url.path)
            return _error(401, "missing bearer token", "authentication_error",
                          headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
        if not hmac.compare_digest(value.strip().encode("utf-8", "replace"), expected):
            log.warning("refused %s: wrong bearer token", request.url.path)
            return _error(403, "wrong bearer token", "authentication_error")
        return None

    async def health(request: Request) -> Response:
        model = state.model
        if model is None:
            return JSONResponse({"status": "loading"}, status_code=503)
        return JSONResponse(
            {
                "status": "ok",
                "backend": model.name,
                "model": label(),
                "busy": state.gate.busy,
                "waiting": state.gate.waiting,
                "served": state.served,
                "rejected": state.rejected,
                "cancelled": state.cancelled,
            }
        )

    async def tokenize(request: Request) -> Response:
        refused = authorised(request) or _not_ready(state.model)
        if refused is not None:
            return refused
        assert state.model is not None
        try:
            payload = _json_object(await _body(request))
        except BodyTooLarge as error:
            return _error(413, str(error), "invalid_request_error")
        except InvalidRequest as error:
            return _error(400, str(error), "invalid_request_error")
        content = payload.get("content")
        if not isinstance(content, str):
            return _error(400, f"content must be a string, got {_json_type(content)}",
                          "invalid_request_error")  # fmt: skip
        # Never through the gate: a prompt being built must not wait for an answer.
        tokens = await anyio.to_thread.run_sync(state.model.tokenize, content)
        return JSONResponse({"tokens": tokens})

    async def completions(request: Request) -> Response:
        refused = authorised(request) or _not_ready(state.model)
        if refused is not None:
            return refused
        model = state.model
        assert model is not None and state.loop is not None and state.executor is not None
        # A queued request may have to wait for every answer ahead of it, and its own.
        default_wait = model.limits.max_seconds * (state.gate.queue + 1)
        try:
            completion = parse_completion(
                await _body(request), model.limits, default_wait=default_wait
            )
        except BodyTooLarge as error:
            log.info("completion refused: %s", error)
            return _error(413, str(error), "invalid_request_error")
        except InvalidRequest as error:
            log.info("completion refused: %s", error)
            return _error(400, str(error), "invalid_request_error")
        try:
            await state.gate.acquire(completion.wait_seconds)
        except Busy as error:
            state.rejected += 1
            retry = max(1, math.ceil(state.seconds_per_answer * (state.gate.waiting + 1)))
            log.info("completion refused: %s (retry after %d s)", error, retry)
            return _error(429, str(error), "busy", headers={"Retry-After": str(retry)})
        job = _Job(model, completion, loop=state.loop, finished=finished)
        state.jobs.add(job)
        try:
            state.executor.submit(job.run)
        except RuntimeError:  # the executor is shut down: the server is stopping
            state.jobs.discard(job)
            state.gate.release()
            return _error(503, "the generator is stopping", "server_error")
        reply = _Reply(uuid.uuid4().hex, int(time.time()), label())
        first = await _next_event(job)
        if isinstance(first, GeneratorError):
            return _generator_error(first)
        if not completion.stream:
            while not isinstance(first, _Done):
                first = await _next_event(job)
                if isinstance(first, GeneratorError):
                    return _generator_error(first)
            return JSONResponse(reply.whole(first))
        return StreamingResponse(
            _events(job, first, reply),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    def finished(job: _Job) -> None:
        """Runs on the loop when a job's worker is done: the model is free for the next."""
        state.jobs.discard(job)
        state.gate.release()
        if job.outcome == "served":
            state.served += 1
        elif job.outcome == "cancelled":
            state.cancelled += 1
        done = job.result
        if done is None:
            log.info("completion %s (stream=%s)", job.outcome, job.request.stream)
            return
        generation = done.generation
        # A smoothed answer time, for the Retry-After of refused requests.
        state.seconds_per_answer = 0.8 * state.seconds_per_answer + 0.2 * generation.seconds
        log.info(
            "completion served (stream=%s): prompt %d tokens, %d tokens in %.2f s "
            "(first after %s s), ended by %s",
            job.request.stream, done.prompt_tokens, generation.tokens, generation.seconds,
            "-" if generation.first_token_seconds is None
            else f"{generation.first_token_seconds:.2f}", generation.stopped_by,
        )  # fmt: skip

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/v1/completions", completions, methods=["POST"]),
            Route("/tokenize", tokenize, methods=["POST"]),
        ],
        lifespan=lifespan,
    )


class BodyTooLarge(InvalidRequest):
    """The body is larger than MAX_BODY_BYTES."""


async def _body(request: Request) -> bytes:
    """The request's body, refused past MAX_BODY_BYTES without reading the rest."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BodyTooLarge(f"the body is larger than {MAX_BODY_BYTES} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise BodyTooLarge(f"the body is larger than {MAX_BODY_BYTES} bytes")
    return body


def _not_ready(model: ServedModel | None) -> Response | None:
    if model is None:
        return _error(503, "the model is still loading", "server_error",
                      headers={"Retry-After": "5"})  # fmt: skip
    return None


def _error(
    status: int, message: str, kind: str, *, headers: dict[str, str] | None = None
) -> JSONResponse:
    """OpenAI's error shape: ``{"error": {"message", "type"}}``."""
    return JSONResponse({"error": {"message": message, "type": kind}}, status, headers=headers)


def _generator_error(error: GeneratorError) -> JSONResponse:
    if isinstance(error, PromptTooLong):
        return _error(400, str(error), "invalid_request_error")
    return _error(500, str(error), "server_error")


async def _next_event(job: _Job) -> _Event:
    try:
        return await job.events.get()
    except asyncio.CancelledError:
        job.cancel()
        raise


@dataclass(frozen=True)
class _Reply:
    """The fields every reply and chunk of one completion share."""

    id: str
    created: int
    model: str

    def _head(self) -> dict[str, Any]:
        return {
            "id": f"cmpl-{self.id}",
            "object": "text_completion",
            "created": self.created,
            "model": self.model,
        }

    def whole(self, done: _Done) -> dict[str, Any]:
        """The non-streamed reply."""
        finish = FINISH_REASONS[done.generation.stopped_by]
        choice = {"index": 0, "text": done.generation.text, "finish_reason": finish}
        return {**self._head(), "choices": [choice], **_usage(done)}

    def chunk(self, text: str) -> bytes:
        """One server-sent event carrying a piece of text."""
        choice = {"index": 0, "text": text, "finish_reason": None}
        return _sse({**self._head(), "choices": [choice]})

    def last(self, done: _Done) -> bytes:
        """The event that ends the text: its finish reason, usage and timings."""
        finish = FINISH_REASONS[done.generation.stopped_by]
        choice = {"index": 0, "text": "", "finish_reason": finish}
        return _sse({**self._head(), "choices": [choice], **_usage(done)})


def _usage(done: _Done) -> dict[str, Any]:
    generation = done.generation
    return {
        "usage": {
            "prompt_tokens": done.prompt_tokens,
            "completion_tokens": generation.tokens,
            "total_tokens": done.prompt_tokens + generation.tokens,
        },
        "timings": {
            "seconds": round(generation.seconds, 4),
            "first_token_seconds": None
            if generation.first_token_seconds is None
            else round(generation.first_token_seconds, 4),
            "stopped_by": generation.stopped_by,
        },
    }


def _sse(payload: object) -> bytes:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()


async def _events(job: _Job, first: _Event, reply: _Reply) -> AsyncIterator[bytes]:
    """The stream's events; leaving early (a client gone, a cancelled task) stops decoding."""
    event = first
    try:
        while True:
            if isinstance(event, _Done):
                yield reply.last(event)
                yield b"data: [DONE]\n\n"
                return
            if isinstance(event, GeneratorError):
                error = {"message": str(event), "type": "server_error"}
                yield _sse({"error": error})
                return
            yield reply.chunk(event)
            event = await job.events.get()
    finally:
        job.cancel()


def load_settings_model(settings: GeneratorSettings) -> ServedModel:
    """The configured in-process backend, loaded by models.generator.

    Raises:
        GeneratorError: The backend is off, cannot be served, or fails to load.
    """
    from models.generator import load_generator

    generator = load_generator(settings)
    if generator is None:
        raise GeneratorError("GENERATOR_BACKEND=off: there is no model to serve")
    if not isinstance(generator, ServedModel):
        raise GeneratorError(f"the {generator.name} backend cannot be served (no tokenize)")
    return generator


def model_label(settings: GeneratorSettings) -> str:
    """A short name of the configured model: base and adapter, e.g. ``gemma-3-270m+erp``."""
    from models.base import PACKAGED_MODEL, model_name

    base = model_name(settings.base_model or Path(PACKAGED_MODEL))
    adapter = settings.adapter_dir
    return base if adapter is None else f"{base}+{adapter.name}"


def lower_priority(settings: GeneratorSettings) -> str:
    """Give this process (and the threads it starts later) only CPU time others leave.

    Niceness, not a thread limit: with the CPU idle the model decodes at full speed. Niceness
    alone was not enough at 50 users on 2 cores (Rasa's turns still queued behind decoding:
    docs/benchmarks.md "Answers under load"), so by default the process also takes Linux's
    SCHED_IDLE policy, under which it runs only when no other process wants the core.

    The launcher starts it in a session of its own, and with Linux's autogroups (on by
    default) a session's processes share one scheduling group that competes with the other
    sessions' groups as an equal, whatever its processes' niceness: the group's own niceness
    is set too (/proc/self/autogroup), when this process leads its session (from a terminal
    it would slow the shell's whole session). Returns what was applied, for the log.
    """
    os.nice(settings.nice)
    applied = f"nice {settings.nice}"
    if os.getsid(0) == os.getpid() and set_autogroup_nice(settings.nice):
        applied += " (its session's group too)"
    if settings.idle and hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except OSError as error:
            log.warning("could not take the idle CPU policy, niceness only: %s", error)
        else:
            applied += ", idle CPU policy"
    return applied


def main(argv: list[str] | None = None) -> int:
    """Serve the configured generator until SIGINT or SIGTERM.

    Exits 2 when GENERATOR_BACKEND=off, a setting is invalid or there is no token; 1 when
    the model cannot be loaded (the launcher's supervisor then restarts it, and gives up on
    a crash loop).
    """
    import uvicorn

    try:
        settings = GeneratorSettings.from_env(os.environ)
        host, level = HOST.read(os.environ), LOG_LEVEL.read(os.environ)
    except SettingsError as error:
        print(f"Cannot start the generator: {error}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="python -m models.server", description=__doc__)
    parser.add_argument(
        "--host",
        default=host,
        help=f"interface to listen on (default {HOST.name} or {HOST.default})",
    )
    parser.add_argument("--port", type=int, default=None,
                        help="port (default GENERATOR_PORT or 5006)")  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr, level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not settings.enabled:
        print("GENERATOR_BACKEND=off: there is no model to serve.", file=sys.stderr)
        return 2
    if not settings.token:
        print(
            f"{TOKEN_ENV} is not set: the generator answers only callers that send it, so it "
            "does not start without one. `python -m bot run` sets it (var/secrets.json).",
            file=sys.stderr,
        )
        return 2
    priority = lower_priority(settings)
    failures: list[BaseException] = []
    server: uvicorn.Server | None = None

    def failed(error: BaseException) -> None:
        failures.append(error)
        if server is not None:
            server.should_exit = True  # uvicorn's loop checks it: a clean stop, exit code 1

    app = create_app(
        lambda: load_settings_model(settings),
        settings.token,
        queue=settings.queue,
        model_label=model_label(settings),
        on_load_failure=failed,
    )
    config = uvicorn.Config(
        app,
        host=args.host,
        port=settings.port if args.port is None else args.port,
        log_level=level.lower(),
        access_log=False,  # one line per completion is logged by the app itself
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    log.info("generator server (%s) on http://%s:%s", priority, args.host, config.port)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if failures:
        return 1
    return 0 if server.started else 3


if __name__ == "__main__":
    sys.exit(main())
