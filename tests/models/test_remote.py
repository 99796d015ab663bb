"""RemoteGenerator against models.server: same answers as the backend, busy and down as errors."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from models.errors import GeneratorBusy, GeneratorError
from models.generator import Generation, Limits
from models.remote import RemoteGenerator, remote_generator
from models.settings import GeneratorSettings
from tests.models.served import TOKEN, SlowModel, serve


def remote(url: str, **kwargs: object) -> RemoteGenerator:
    return RemoteGenerator(url, TOKEN, Limits(), timeout=30, **kwargs)  # type: ignore[arg-type]


@pytest.fixture()
def served() -> Iterator[tuple[RemoteGenerator, SlowModel]]:
    model = SlowModel()
    with serve(model) as url, remote(url) as generator:
        yield generator, model


def test_generate_stream_and_count_tokens_equal_the_backend_s(
    served: tuple[RemoteGenerator, SlowModel],
) -> None:
    generator, model = served
    local = SlowModel()

    generation = generator.generate("how long do refunds take")
    expected = local.generate("how long do refunds take")

    assert (generation.text, generation.tokens, generation.stopped_by) == (
        expected.text, expected.tokens, expected.stopped_by)  # fmt: skip
    assert generation.first_token_seconds is not None
    assert list(generator.stream("Q")) == list(local.stream("Q"))
    assert generator.count_tokens("three small words") == local.count_tokens("three small words")


def test_token_counts_are_cached(served: tuple[RemoteGenerator, SlowModel]) -> None:
    generator, _ = served
    calls: list[str] = []
    generator._client.event_hooks["request"].append(lambda request: calls.append(request.url.path))

    counts = [generator.count_tokens(text) for text in ("a b", "a b", "c", "a b")]

    assert counts == [2, 2, 1, 2]
    assert calls == ["/tokenize", "/tokenize"]


def test_closing_a_stream_early_cancels_the_answer_on_the_server() -> None:
    model = SlowModel(["word "] * 200, seconds_per_token=0.02)
    with serve(model) as url, remote(url) as generator:
        stream = generator.stream("Q")
        assert next(stream) == "word "

        stream.close()
        deadline = time.monotonic() + 2
        while httpx.get(f"{url}/health").json()["cancelled"] != 1:
            assert time.monotonic() < deadline, "the server kept decoding"
            time.sleep(0.01)
        decoded = model.decoded
        following = generator.generate("Q", wait_seconds=0)

    assert decoded < 50
    assert following.stopped_by == "max_tokens"


def test_a_busy_server_is_generator_busy_for_generate_and_stream() -> None:
    held = threading.Event()
    model = SlowModel(hold=held)
    with serve(model, queue=0) as url, remote(url) as generator:
        first = threading.Thread(target=generator.generate, args=("Q",))
        first.start()
        while not model.running.is_set():
            time.sleep(0.01)

        with pytest.raises(GeneratorBusy) as busy:
            generator.generate("Q")
        with pytest.raises(GeneratorBusy):
            next(generator.stream("Q"))
        held.set()
        first.join(30)

    assert busy.value.retry_after is not None and busy.value.retry_after >= 1
    assert isinstance(busy.value, GeneratorError)


def test_a_server_that_is_down_is_a_generator_error_at_once() -> None:
    from bot.settings import free_port

    generator = RemoteGenerator(f"http://127.0.0.1:{free_port()}", TOKEN, Limits(), timeout=30)
    started = time.perf_counter()

    with pytest.raises(GeneratorError, match="cannot reach the generator"):
        generator.generate("Q")
    with pytest.raises(GeneratorError, match="cannot reach the generator"):
        list(generator.stream("Q"))
    with pytest.raises(GeneratorError, match="cannot reach the generator"):
        generator.count_tokens("Q")

    assert time.perf_counter() - started < 1.0


def test_a_wrong_token_is_a_generator_error(served: tuple[RemoteGenerator, SlowModel]) -> None:
    generator, _ = served
    with (
        RemoteGenerator(generator.url, "guess", Limits(), timeout=5) as stranger,
        pytest.raises(GeneratorError, match="answered 403: wrong bearer token"),
    ):
        stranger.generate("Q")


def test_twenty_concurrent_callers_get_an_answer_or_busy_never_a_hang() -> None:
    model = SlowModel(seconds_per_token=0.01)
    outcomes: list[str] = []
    failures: list[BaseException] = []

    def call(generator: RemoteGenerator, index: int) -> None:
        try:
            if index % 3 == 0:
                outcomes.append("".join(generator.stream("Q")).strip())
            elif index % 3 == 1:
                outcomes.append(generator.generate("Q").text)
            else:
                outcomes.append(str(generator.count_tokens(f"word {index}")))
        except GeneratorBusy:
            outcomes.append("busy")
        except BaseException as error:  # noqa: BLE001 - the test reports it
            failures.append(error)

    with serve(model, queue=2) as url, remote(url, wait_seconds=0.2) as generator:
        threads = [threading.Thread(target=call, args=(generator, i)) for i in range(20)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        took = time.perf_counter() - started

    assert failures == []
    assert len(outcomes) == 20
    assert set(outcomes) <= {"One answer at a time.", "busy", "2"}
    assert outcomes.count("2") == 6  # token counts never queue
    assert "One answer at a time." in outcomes
    assert took < 10


def replying(status: int, content: bytes, content_type: str) -> httpx.MockTransport:
    return httpx.MockTransport(
        lambda request: httpx.Response(
            status, content=content, headers={"content-type": content_type}
        )  # fmt: skip
    )


CHUNK = b'data: {"choices": [{"index": 0, "text": "Hi", "finish_reason": null}]}\n\n'
LAST = b'data: {"choices": [{"index": 0, "text": "", "finish_reason": "stop"}]}\n\n'


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (CHUNK, "the generator's stream ended early"),
        (CHUNK + b"data: [DONE]\n\n", "ended without a finish reason"),
        (CHUNK + b"data: {not json\n\n", "the generator's stream is malformed"),
        (b'data: {"choices": []}\n\n', "the generator's stream is malformed"),
        (CHUNK + b'data: {"error": {"message": "boom", "type": "server_error"}}\n\n',
         "the generator failed: boom"),
    ],
    ids=["no-done", "no-finish", "not-json", "no-choice", "error-event"],
)  # fmt: skip
def test_a_broken_stream_is_a_generator_error(content: bytes, message: str) -> None:
    generator = RemoteGenerator("http://generator", TOKEN, Limits(), timeout=5,
                                transport=replying(200, content, "text/event-stream"))  # fmt: skip

    with pytest.raises(GeneratorError, match=message):
        list(generator.stream("Q"))


def test_a_whole_stream_is_read_to_its_end() -> None:
    transport = replying(200, CHUNK + LAST + b"data: [DONE]\n\n", "text/event-stream")
    generator = RemoteGenerator("http://generator", TOKEN, Limits(), timeout=5, transport=transport)

    assert list(generator.stream("Q")) == ["Hi"]


@pytest.mark.parametrize(
    ("status", "content", "message"),
    [
        (200, b"<html>", "reply to /v1/completions is not JSON"),
        (200, b'{"choices": []}', "reply is malformed"),
        (500, b'{"error": {"message": "boom", "type": "server_error"}}', "answered 500: boom"),
        (502, b"Bad Gateway", "answered 502: Bad Gateway"),
    ],
    ids=["not-json", "no-choice", "500", "proxy-error"],
)
def test_a_bad_reply_is_a_generator_error(status: int, content: bytes, message: str) -> None:
    transport = replying(status, content, "application/json")
    generator = RemoteGenerator("http://generator", TOKEN, Limits(), timeout=5, transport=transport)

    with pytest.raises(GeneratorError, match=message):
        generator.generate("Q")


def test_the_token_stays_out_of_the_repr() -> None:
    assert TOKEN not in repr(RemoteGenerator("http://generator", TOKEN, Limits(), timeout=5))
    settings = dataclasses.replace(settings_of(), token="s3cret-token")
    assert "s3cret-token" not in repr(settings)


def settings_of(**overrides: object) -> GeneratorSettings:
    base = GeneratorSettings(
        backend="llama_cpp", base_model=None, adapter_dir=None, models_dir=Path("var/models"),
        max_new_tokens=8, max_seconds=5.0, prompt_tokens=320, threads=1,
        url="http://127.0.0.1:5006", token="t0ken",
    )  # fmt: skip
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


def test_remote_generator_follows_the_settings() -> None:
    assert remote_generator(settings_of(backend="off")) is None
    assert remote_generator(settings_of(url="")) is None
    with pytest.raises(ValueError, match="GENERATOR_TOKEN must be set"):
        remote_generator(settings_of(token=""))
    one = remote_generator(settings_of())
    assert one is remote_generator(settings_of())  # one pooled client per process
    assert one is not None and one.url == "http://127.0.0.1:5006"
    assert one.limits == Limits(max_new_tokens=8, max_seconds=5.0)


def test_settings_read_the_server_s_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENERATOR_URL", "https://gpu.example:8443/")
    monkeypatch.setenv("GENERATOR_TOKEN", " t0ken ")
    monkeypatch.setenv("GENERATOR_QUEUE", "0")
    monkeypatch.setenv("GENERATOR_NICE", "19")
    monkeypatch.setenv("GENERATOR_PORT", "6006")
    monkeypatch.setenv("GENERATOR_IDLE", "0")

    settings = GeneratorSettings.from_env()

    assert (settings.url, settings.token) == ("https://gpu.example:8443", "t0ken")
    assert (settings.queue, settings.nice, settings.port, settings.idle) == (0, 19, 6006, False)
    # The token is no part of the cache key of load_generator.
    assert hash(settings) == hash(dataclasses.replace(settings, token="other"))


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("GENERATOR_NICE", "20", "GENERATOR_NICE must be between 0 and 19, got 20"),
        ("GENERATOR_QUEUE", "two", "GENERATOR_QUEUE must be an integer"),
        ("GENERATOR_PORT", "0", "GENERATOR_PORT must be between 1 and 65535"),
        ("GENERATOR_IDLE", "yes", "GENERATOR_IDLE must be 0 or 1"),
    ],
    ids=["nice", "queue", "port", "idle"],
)
def test_bad_server_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ValueError, match=message):
        GeneratorSettings.from_env()


# --- the real model through `python -m models.server` -----------------------------------


@pytest.mark.integration
def test_the_real_model_answers_the_same_through_the_server(tmp_path: Path) -> None:
    """The committed adapter on the packaged GGUF: greedy, so the server's answer is the
    in-process one, token for token; and the server's log keeps its lines."""
    from bot.settings import free_port
    from models.examples import ContextItem
    from models.generator import LlamaCppGenerator, load_generator
    from models.prompt import build_prompt
    from models.settings import DEFAULT_ADAPTER_DIR

    env = {k: v for k, v in os.environ.items() if not k.startswith("GENERATOR_")}
    port = free_port()
    env.update(GENERATOR_TOKEN=TOKEN, GENERATOR_PORT=str(port), GENERATOR_THREADS="1",
               GENERATOR_MAX_SECONDS="120", GENERATOR_NICE="0")  # fmt: skip
    log_file = tmp_path / "generator.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "models.server"],
                                   cwd=Path(__file__).resolve().parents[2], env=env,
                                   stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    served: RemoteGenerator | None = None
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, log_file.read_text()[-2000:]
            assert time.monotonic() < deadline, "the server did not load the model in 120 s"
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        # The default priority: only CPU time nothing else wants (Linux's SCHED_IDLE).
        idle_policy = os.sched_getscheduler(process.pid) == os.SCHED_IDLE
        local = load_generator(dataclasses.replace(
            GeneratorSettings.from_env(), backend="llama_cpp", base_model=None,
            adapter_dir=DEFAULT_ADAPTER_DIR, max_seconds=120.0, threads=1))  # fmt: skip
        assert local is not None
        served = RemoteGenerator(url, TOKEN, local.limits, timeout=120)
        item = ContextItem(
            "ERP invoice INV-200456",
            "invoice number: INV-200456\namount due: 1,250.00 GBP\ndue date: 2026-04-01",
            "erp:invoice:INV-200456",
        )
        prompt = build_prompt("How much is due on INV-200456?", [item], max_tokens=320,
                              count_tokens=served.count_tokens).text  # fmt: skip

        remote_answer: Generation = served.generate(prompt)
        local_answer = local.generate(prompt)
        streamed = "".join(served.stream(prompt)).strip()
        assert isinstance(local, LlamaCppGenerator)
        # The vocabulary-only instance behind /tokenize counts as the model itself does.
        own = local.llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=False)
        counts = (served.count_tokens(prompt), local.count_tokens(prompt), len(own))
    finally:
        if served is not None:
            served.close()
        process.terminate()
        process.wait(30)

    assert remote_answer.text == local_answer.text == streamed
    assert "1,250" in remote_answer.text
    assert remote_answer.tokens == local_answer.tokens
    assert counts[0] == counts[1] == counts[2] > 0
    assert "completion served" in log_file.read_text()
    assert idle_policy
