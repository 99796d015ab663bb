"""models.server: auth, OpenAI shapes, bad bodies, the bounded queue, cancellation, tokenize."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Generator as Stepper
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from models.errors import GeneratorError, PromptTooLong
from models.generator import Limits
from models.server import create_app
from tests.models.served import TOKEN, WORDS, SlowModel, serve

AUTH = {"Authorization": f"Bearer {TOKEN}"}
ANSWER = "".join(WORDS).strip()


@pytest.fixture()
def quick() -> Iterator[tuple[str, SlowModel]]:
    model = SlowModel()
    with serve(model) as url:
        yield url, model


def post(url: str, path: str, body: object, **kwargs: object) -> httpx.Response:
    headers = kwargs.pop("headers", AUTH)
    return httpx.post(f"{url}{path}", json=body, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]


def health(url: str) -> dict:
    return httpx.get(f"{url}/health", timeout=5).json()


def wait_for(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def sse_events(response: httpx.Response) -> list[object]:
    return [
        "[DONE]" if line == "data: [DONE]" else json.loads(line[len("data: ") :])
        for line in response.text.split("\n\n")
        if line
    ]


# --- health and auth -------------------------------------------------------------------


def test_health_is_open_and_reports_the_queue(quick: tuple[str, SlowModel]) -> None:
    url, _ = quick

    response = httpx.get(f"{url}/health", timeout=5)

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok", "backend": "slow", "model": "test-model", "busy": False,
        "waiting": 0, "served": 0, "rejected": 0, "cancelled": 0,
    }  # fmt: skip


def test_health_is_503_and_completions_wait_while_the_model_loads() -> None:
    import socket

    import uvicorn

    loaded = threading.Event()

    def load() -> SlowModel:
        loaded.wait(10)
        return SlowModel()

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(create_app(load, TOKEN), lifespan="on", log_level="warning")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        wait_for(lambda: server.started)
        assert httpx.get(f"{url}/health").status_code == 503
        refused = post(url, "/v1/completions", {"prompt": "Q"})
        assert refused.status_code == 503
        assert refused.json()["error"]["message"] == "the model is still loading"
        loaded.set()
        wait_for(lambda: httpx.get(f"{url}/health").status_code == 200)
        assert post(url, "/v1/completions", {"prompt": "Q"}).status_code == 200
    finally:
        loaded.set()
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_a_failed_load_is_reported_to_the_caller() -> None:
    import socket

    import uvicorn

    failures: list[BaseException] = []

    def load() -> SlowModel:
        raise GeneratorError("no such GGUF file")

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    app = create_app(load, TOKEN, on_load_failure=failures.append)
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="critical"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_for(lambda: failures)
        assert str(failures[0]) == "no such GGUF file"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.mark.parametrize("path", ["/v1/completions", "/tokenize"])
@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer guess"}, 403), ({"Authorization": TOKEN}, 401)],
    ids=["missing", "wrong", "no-scheme"],
)
def test_every_route_but_health_needs_the_token(
    quick: tuple[str, SlowModel], path: str, headers: dict[str, str], status: int
) -> None:
    url, model = quick

    response = post(url, path, {"prompt": "Q", "content": "Q"}, headers=headers)

    assert response.status_code == status
    assert response.json()["error"]["type"] == "authentication_error"
    assert model.decoded == 0


def test_the_app_refuses_an_empty_token() -> None:
    with pytest.raises(ValueError, match="needs a token"):
        create_app(SlowModel, "")


# --- OpenAI shapes ---------------------------------------------------------------------


def test_a_completion_has_openai_s_shape_with_usage_and_timings(
    quick: tuple[str, SlowModel],
) -> None:
    url, _ = quick

    response = post(url, "/v1/completions", {"prompt": "a short prompt", "temperature": 0.7})

    assert response.status_code == 200
    reply = response.json()
    assert reply["id"].startswith("cmpl-")
    assert reply["object"] == "text_completion"
    assert isinstance(reply["created"], int)
    assert reply["model"] == "test-model"
    assert reply["choices"] == [{"index": 0, "text": ANSWER, "finish_reason": "stop"}]
    assert reply["usage"] == {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}
    assert reply["timings"]["stopped_by"] == "eos"
    assert 0 <= reply["timings"]["first_token_seconds"] <= reply["timings"]["seconds"]
    assert health(url)["served"] == 1


def test_a_streamed_completion_sends_pieces_then_the_finish_then_done(
    quick: tuple[str, SlowModel],
) -> None:
    url, _ = quick

    response = post(url, "/v1/completions", {"prompt": "Q", "stream": True})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(isinstance(c, dict) and c["object"] == "text_completion" for c in chunks)
    texts = [c["choices"][0]["text"] for c in chunks]  # type: ignore[index]
    assert texts == ["One", " answer", " at", " a", " time.", ""]
    reasons = [c["choices"][0]["finish_reason"] for c in chunks]  # type: ignore[index]
    assert reasons == [None] * 5 + ["stop"]
    assert chunks[-1]["usage"]["completion_tokens"] == 5  # type: ignore[index]
    assert len({c["id"] for c in chunks}) == 1  # type: ignore[index]


@pytest.mark.parametrize(
    ("body", "text", "finish"),
    [
        ({"max_tokens": 2}, "One answer", "length"),
        ({"max_tokens": 1000}, "One answer at", "length"),
        ({"stop": [" at"]}, "One answer", "stop"),
        ({"stop": " answer"}, "One", "stop"),
    ],
    ids=["fewer-tokens", "never-more-than-configured", "stop-list", "stop-string"],
)
def test_max_tokens_only_lowers_the_limit_and_stop_adds_sequences(
    body: dict[str, object], text: str, finish: str
) -> None:
    model = SlowModel(limits=Limits(max_new_tokens=3))
    with serve(model) as url:
        reply = post(url, "/v1/completions", {"prompt": "Q", **body}).json()

    assert reply["choices"][0]["text"] == text
    assert reply["choices"][0]["finish_reason"] == finish


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "the body must be a JSON object"),
        (b'["Q"]', "the body must be a JSON object, got an array"),
        (b"{}", "prompt must be a string, got null"),
        (b'{"prompt": 5}', "prompt must be a string, got a number"),
        (b'{"prompt": ["Q"]}', "prompt must be a string, got an array"),
        (b'{"prompt": "  "}', "prompt must not be empty"),
        (b'{"prompt": "Q", "max_tokens": 0}', "max_tokens must be a whole number above 0"),
        (b'{"prompt": "Q", "max_tokens": "5"}', "max_tokens must be a whole number above 0"),
        (b'{"prompt": "Q", "max_tokens": true}', "max_tokens must be a whole number above 0"),
        (b'{"prompt": "Q", "stream": "yes"}', "stream must be true or false, got a string"),
        (b'{"prompt": "Q", "stop": [""]}', "stop must be a non-empty string or a list"),
        (b'{"prompt": "Q", "stop": 5}', "stop must be a non-empty string or a list"),
        (b'{"prompt": "Q", "wait_seconds": -1}', "wait_seconds must be a number of at least 0"),
        (b'{"prompt": "Q", "wait_seconds": "1"}', "wait_seconds must be a number of at least 0"),
    ],
    ids=[
        "not-json", "array", "no-prompt", "number-prompt", "list-prompt", "blank-prompt",
        "zero-tokens", "string-tokens", "bool-tokens", "string-stream", "empty-stop",
        "number-stop", "negative-wait", "string-wait",
    ],
)  # fmt: skip
def test_bad_bodies_get_400_saying_what_was_wrong(
    quick: tuple[str, SlowModel], content: bytes, message: str
) -> None:
    url, model = quick

    response = httpx.post(f"{url}/v1/completions", content=content, headers=AUTH)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith(message)
    assert model.decoded == 0


def test_a_body_over_64_kib_is_refused(quick: tuple[str, SlowModel]) -> None:
    url, model = quick

    response = post(url, "/v1/completions", {"prompt": "x" * 70_000})

    assert response.status_code == 413
    assert "larger than 65536 bytes" in response.json()["error"]["message"]
    assert model.decoded == 0


def test_tokenize_answers_like_llama_cpp_s_server(quick: tuple[str, SlowModel]) -> None:
    url, model = quick

    response = post(url, "/tokenize", {"content": "how long do refunds take"})

    assert response.json() == {"tokens": model.tokenize("how long do refunds take")}
    assert post(url, "/tokenize", {"content": 5}).status_code == 400


class Failing(SlowModel):
    def _token_texts(self, prompt: str) -> Stepper[str, None, None]:
        if "long" in prompt:
            raise PromptTooLong("the prompt has 3000 tokens; it does not fit the context")
        yield "One"
        raise RuntimeError("llama_decode returned -1")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_prompt_too_long_is_400_and_a_model_failure_500_and_the_server_goes_on(
    stream: bool,
) -> None:
    with serve(Failing()) as url:
        too_long = post(url, "/v1/completions", {"prompt": "a long prompt", "stream": stream})
        failed = post(url, "/v1/completions", {"prompt": "Q", "stream": stream})
        again = post(url, "/v1/completions", {"prompt": "a long prompt"})

    assert too_long.status_code == 400
    assert "does not fit the context" in too_long.json()["error"]["message"]
    if stream:  # the first piece was sent: the failure comes as the stream's last event
        events = sse_events(failed)
        assert events[-1] == {"error": {
            "message": "the model failed: RuntimeError: llama_decode returned -1",
            "type": "server_error"}}  # fmt: skip
    else:
        assert failed.status_code == 500
        assert failed.json()["error"]["type"] == "server_error"
    assert again.status_code == 400


# --- the bounded queue -----------------------------------------------------------------


def completions_at_once(url: str, count: int, body: dict[str, object]) -> list[tuple[int, float]]:
    results: list[tuple[int, float]] = [(0, 0.0)] * count

    def ask(index: int) -> None:
        started = time.perf_counter()
        response = post(url, "/v1/completions", body)
        results[index] = (response.status_code, time.perf_counter() - started)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_past_the_queue_requests_get_429_at_once_and_the_others_are_served() -> None:
    held = threading.Event()
    model = SlowModel(hold=held)  # the first answer runs until the extra ones are refused
    with serve(model, queue=2) as url:
        first = threading.Thread(target=post, args=(url, "/v1/completions", {"prompt": "Q"}))
        first.start()
        wait_for(model.running.is_set)
        queued = threading.Thread(target=completions_at_once, args=(url, 2, {"prompt": "Q"}))
        queued.start()
        wait_for(lambda: health(url)["waiting"] == 2)

        extra = completions_at_once(url, 2, {"prompt": "Q"})
        held.set()
        first.join(30)
        queued.join(30)
        state = health(url)

    assert [status for status, _ in extra] == [429, 429]
    # Refused, not queued: a queued request would have waited for `held`, set only after.
    assert all(seconds < 5 for _, seconds in extra)
    assert state["served"] == 3
    assert state["rejected"] == 2


def test_a_429_is_busy_in_openai_s_shape_with_retry_after() -> None:
    held = threading.Event()
    model = SlowModel(hold=held)
    with serve(model, queue=0) as url:
        first = threading.Thread(target=post, args=(url, "/v1/completions", {"prompt": "Q"}))
        first.start()
        wait_for(model.running.is_set)
        refused = post(url, "/v1/completions", {"prompt": "Q"})
        held.set()
        first.join(30)

    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "busy"
    assert int(refused.headers["retry-after"]) >= 1


def test_wait_seconds_zero_is_served_only_when_the_model_is_free() -> None:
    held = threading.Event()
    held.set()
    model = SlowModel(hold=held)
    with serve(model, queue=2) as url:
        assert post(url, "/v1/completions", {"prompt": "Q", "wait_seconds": 0}).status_code == 200
        held.clear()
        first = threading.Thread(target=post, args=(url, "/v1/completions", {"prompt": "Q"}))
        first.start()
        wait_for(model.running.is_set)
        started = time.perf_counter()
        busy = post(url, "/v1/completions", {"prompt": "Q", "wait_seconds": 0})
        refused_after = time.perf_counter() - started
        held.set()
        first.join(30)

    assert busy.status_code == 429
    assert refused_after < 0.3


def test_a_request_waits_at_most_its_wait_seconds() -> None:
    model = SlowModel(["word"] * 40, seconds_per_token=0.05)  # two seconds of answer
    with serve(model, queue=2) as url:
        first = threading.Thread(target=post, args=(url, "/v1/completions", {"prompt": "Q"}))
        first.start()
        wait_for(model.running.is_set)
        started = time.perf_counter()
        gave_up = post(url, "/v1/completions", {"prompt": "Q", "wait_seconds": 0.3})
        waited = time.perf_counter() - started
        state = health(url)
        first.join(30)

    assert gave_up.status_code == 429
    assert "stayed busy for 0.3 s" in gave_up.json()["error"]["message"]
    assert 0.25 < waited < 1.5
    assert state["waiting"] == 0


# --- cancellation and tokenize while busy ----------------------------------------------


def test_a_client_that_disconnects_mid_stream_frees_the_model() -> None:
    model = SlowModel(["word "] * 200, seconds_per_token=0.02)  # four seconds of answer
    with serve(model) as url:
        with httpx.stream("POST", f"{url}/v1/completions", json={"prompt": "Q", "stream": True},
                          headers=AUTH, timeout=30) as response:  # fmt: skip
            lines = response.iter_lines()
            assert next(lines).startswith("data: ")
        # The connection is closed: decoding stops at the next token.
        wait_for(lambda: health(url)["cancelled"] == 1, timeout=2)
        decoded = model.decoded
        state = health(url)
        following = post(url, "/v1/completions", {"prompt": "Q", "wait_seconds": 0})

    assert decoded < 50
    assert state["busy"] is False
    assert state["served"] == 0
    assert following.status_code == 200
    assert following.json()["choices"][0]["finish_reason"] == "length"


def test_tokenize_does_not_wait_for_a_generation() -> None:
    model = SlowModel(["word"] * 100, seconds_per_token=0.02)
    with serve(model) as url:
        first = threading.Thread(target=post, args=(url, "/v1/completions", {"prompt": "Q"}))
        first.start()
        wait_for(model.running.is_set)
        started = time.perf_counter()
        tokens = post(url, "/tokenize", {"content": "three small words"})
        took = time.perf_counter() - started
        still_running = model.running.is_set()
        first.join(30)

    assert tokens.json() == {"tokens": [5, 5, 5]}
    assert still_running
    assert took < 0.5


# --- the command -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GENERATOR_BACKEND": "off", "GENERATOR_TOKEN": "t"}, "GENERATOR_BACKEND=off"),
        ({"GENERATOR_BACKEND": "llama_cpp"}, "GENERATOR_TOKEN is not set"),
        ({"GENERATOR_TOKEN": "t", "GENERATOR_QUEUE": "-1"}, "GENERATOR_QUEUE must be between"),
    ],
    ids=["off", "no-token", "bad-queue"],
)
def test_the_server_refuses_to_start_without_a_model_or_a_token(
    env: dict[str, str], message: str
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GENERATOR_")}
    result = subprocess.run(
        [sys.executable, "-m", "models.server", "--port", "1"],
        cwd=Path(__file__).resolve().parents[2],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert message in result.stderr
