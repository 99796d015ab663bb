"""Local stand-ins for the Telegram Bot API and the Slack Web API that record what they get.

For tests, benchmarks and trying the channels offline: point TELEGRAM_API_URL and
SLACK_API_URL at a FakePlatforms server and every outgoing call is answered like the real
API would and kept in ``calls`` (Slack's file uploads too: files.getUploadURLExternal
answers with an upload URL on this server, whose POSTs are recorded as "upload").
Failures can be scripted (``fail``) to exercise retries.
Telegram's editMessageText answers like the real one: 400 for a message it never sent and
for an edit that changes nothing.

Usage::

    fake = FakePlatforms()
    with serve(fake.app) as url:
        settings = TelegramSettings(bot_token="1:T", webhook_secret="s", api_url=url)
        ...
        fake.wait_for(lambda calls: any(c.method == "sendMessage" for c in calls))
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

BOT_USER = {"id": 7000001, "is_bot": True, "first_name": "Northbridge", "username": "nb_erp_bot"}


@dataclass(frozen=True)
class Call:
    """One recorded API call: platform ("telegram", "slack", "slack-response", "slack-upload"),
    method, params."""

    platform: str
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.perf_counter)


@dataclass
class Failure:
    """A scripted failure for the next ``times`` calls of ``method``."""

    method: str
    status: int
    times: int
    retry_after: int = 1
    description: str | None = None


class FakePlatforms:
    """A Starlette app answering Telegram Bot API and Slack Web API calls, recording each."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.failures: list[Failure] = []
        self._ids = itertools.count(1)
        # Text and keyboard of every Telegram message sent, by (chat id, message id).
        self._messages: dict[tuple[str, str], tuple[str, Any]] = {}
        self._lock = threading.Lock()
        self._changed = threading.Condition()
        self.app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._telegram, methods=["GET", "POST"]),
                Route("/slack-api/{method}", self._slack, methods=["POST"]),
                Route("/slack-response/{hook}", self._slack_response, methods=["POST"]),
                Route("/slack-upload/{file_id}", self._slack_upload, methods=["POST"]),
            ]
        )

    def fail(
        self,
        method: str,
        *,
        status: int,
        times: int = 1,
        retry_after: int = 1,
        description: str | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with HTTP ``status`` (429, 400, 5xx).

        ``description`` is Telegram's error description or Slack's ``error`` code.
        """
        with self._lock:
            self.failures.append(Failure(method, status, times, retry_after, description))

    def of(self, method: str) -> list[Call]:
        """The recorded calls of one method, in order."""
        return [call for call in list(self.calls) if call.method == method]

    def wait_for(self, done: Callable[[list[Call]], bool], *, timeout: float = 10.0) -> list[Call]:
        """Block until ``done(calls)`` holds; raise TimeoutError with what was recorded."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not done(list(self.calls)):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"calls so far: {[c.method for c in self.calls]}")
                self._changed.wait(min(left, 0.05))
        return list(self.calls)

    def _record(self, call: Call) -> None:
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    def _failure(self, method: str) -> Failure | None:
        with self._lock:
            for failure in self.failures:
                if failure.method == method and failure.times > 0:
                    failure.times -= 1
                    return failure
        return None

    async def _telegram(self, request: Request) -> Response:
        method = request.path_params["method"]
        params = await _params(request)
        self._record(Call("telegram", method, params))
        if method == "getUpdates":
            # Long polling with nothing to deliver: wait a little instead of spinning.
            await anyio.sleep(0.5)
            return JSONResponse({"ok": True, "result": []})
        failure = self._failure(method)
        if failure is not None:
            if failure.status == 429:
                return JSONResponse(
                    {"ok": False, "error_code": 429,
                     "description": f"Too Many Requests: retry after {failure.retry_after}",
                     "parameters": {"retry_after": failure.retry_after}},
                    status_code=429,
                )  # fmt: skip
            description = failure.description or "Bad Gateway"
            return _telegram_error(failure.status, description)
        if method == "editMessageText":
            return self._telegram_edit(params)
        return JSONResponse({"ok": True, "result": self._telegram_result(method, params)})

    def _telegram_edit(self, params: dict[str, Any]) -> Response:
        key = (str(params.get("chat_id")), str(params.get("message_id")))
        new = (str(params.get("text", "")), params.get("reply_markup"))
        with self._lock:
            old = self._messages.get(key)
            if old is None:
                return _telegram_error(400, "Bad Request: message to edit not found")
            if old == new:
                return _telegram_error(
                    400,
                    "Bad Request: message is not modified: specified new message content and "
                    "reply markup are exactly the same as a current content and reply markup "
                    "of the message",
                )
            self._messages[key] = new
        message = {
            "message_id": int(key[1]),
            "date": int(time.time()),
            "edit_date": int(time.time()),
            "chat": {"id": int(key[0]), "type": "private"},
            "from": BOT_USER,
            "text": new[0],
        }
        return JSONResponse({"ok": True, "result": message})

    def _telegram_result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method in ("sendMessage", "sendPhoto"):
            message: dict[str, Any] = {
                "message_id": next(self._ids),
                "date": int(time.time()),
                "chat": {"id": int(params.get("chat_id", 0)), "type": "private"},
                "from": BOT_USER,
            }
            if method == "sendMessage":
                message["text"] = params.get("text", "")
                with self._lock:
                    self._messages[(str(params.get("chat_id")), str(message["message_id"]))] = (
                        str(message["text"]),
                        params.get("reply_markup"),
                    )
            else:
                message["photo"] = [
                    {"file_id": "p1", "file_unique_id": "p1", "width": 1, "height": 1}
                ]
            return message
        return True

    async def _slack(self, request: Request) -> Response:
        method = request.path_params["method"]
        params = await _params(request)
        self._record(Call("slack", method, params))
        failure = self._failure(method)
        if failure is not None:
            headers = {"Retry-After": str(failure.retry_after)} if failure.status == 429 else {}
            return JSONResponse(
                {"ok": False, "error": failure.description or "ratelimited"},
                status_code=failure.status,
                headers=headers,
            )
        if method == "chat.postMessage":
            # Unique like Slack's: a message's ts is its id (threads and reactions point at it).
            ts = f"{int(time.time())}.{next(self._ids):06d}"
            return JSONResponse({"ok": True, "channel": params.get("channel"), "ts": ts})
        if method == "auth.test":
            return JSONResponse({"ok": True, "user_id": "UBOT", "team_id": "T0001"})
        if method == "files.getUploadURLExternal":
            # Slack answers with a URL on its file service; here, this server's upload route.
            file_id = f"F{next(self._ids):08d}"
            url = f"{str(request.base_url).rstrip('/')}/slack-upload/{file_id}"
            return JSONResponse({"ok": True, "upload_url": url, "file_id": file_id})
        if method == "files.completeUploadExternal":
            files = params.get("files")
            shared = [
                {"id": f.get("id"), "title": f.get("title")}
                for f in (files if isinstance(files, list) else [])
                if isinstance(f, dict)
            ]
            return JSONResponse({"ok": True, "files": shared})
        return JSONResponse({"ok": True})

    async def _slack_upload(self, request: Request) -> Response:
        """The bytes of a file POSTed to an upload URL: recorded as method "upload" with
        ``file_id``, ``content_type`` and ``content`` (bytes)."""
        body = await request.body()
        params = {
            "file_id": request.path_params["file_id"],
            "content_type": request.headers.get("content-type", ""),
            "content": body,
        }
        self._record(Call("slack-upload", "upload", params))
        failure = self._failure("upload")
        if failure is not None:
            return Response("upload failed", status_code=failure.status)
        return Response(f"OK - {len(body)}")

    async def _slack_response(self, request: Request) -> Response:
        self._record(Call("slack-response", request.path_params["hook"], await _params(request)))
        return Response("ok")


def _telegram_error(status: int, description: str) -> Response:
    return JSONResponse(
        {"ok": False, "error_code": status, "description": description}, status_code=status
    )


async def _params(request: Request) -> dict[str, Any]:
    """Parameters as the real APIs read them: JSON body, or a form with JSON-encoded values."""
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await request.body()
        data = json.loads(body) if body else {}
        return data if isinstance(data, dict) else {"body": data}
    form = parse_qs((await request.body()).decode(), keep_blank_values=True)
    params: dict[str, Any] = {}
    for key, values in form.items():
        value = values[0]
        try:
            params[key] = json.loads(value) if value[:1] in "[{" else value
        except ValueError:
            params[key] = value
    return params


@contextmanager
def serve(app: Any, *, host: str = "127.0.0.1", lifespan: bool = False) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a background thread; yield its base URL.

    With ``lifespan`` the app's startup and shutdown run too (and WebSockets are served).
    """
    sock = socket.socket()
    sock.bind((host, 0))
    config = uvicorn.Config(
        app,
        lifespan="on" if lifespan else "off",
        log_level="warning",
        ws="websockets-sansio" if lifespan else "none",
        loop="asyncio",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("fake server did not start within 10 s")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
