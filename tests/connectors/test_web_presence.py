"""The web chat across gateway replicas that share Redis: a push made on one replica reaches a
window on another, fails only when no replica holds a window, and stops counting the windows
of a replica that died; a verification on one replica disconnects the old token's window on
another; the gateway's Redis account may do exactly that; without Redis, one process keeps
it all in memory as before; a Redis outage never crashes a turn.

Redis at 127.0.0.1:6379 (no password), db 7, keys of a random prefix only; skipped when it
is not there, failed in CI."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis
import socketio

from benchmarks.fake_platforms import serve
from bot.profile import Production
from bot.provision import Provisioned, redis_gateway_acl
from connectors import gateway
from connectors.channels.presence import LocalPresence, RedisPresence
from connectors.channels.web import SessionTokens, WebChannel
from connectors.errors import ChannelDeliveryFailed
from connectors.messages import OutgoingMessage
from tests.connectors.fakes import SETTINGS, FakeRasa, actions_transport
from tests.connectors.test_web_channel import (
    SECRET,
    VERIFICATION_SECRET,
    chat,
    drain,
    key_of,
    start_session,
    turn,
    verified,
)

REDIS_DB = 7
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
T = TypeVar("T")


@pytest.fixture(scope="module")
def admin() -> Iterator[redis.Redis]:
    """The local Redis without a password, on the tests' db."""
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        message = f"Redis is not reachable at 127.0.0.1:6379 for the web presence tests: {error}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    yield client
    client.close()


@pytest.fixture
def prefix(admin: redis.Redis) -> Iterator[str]:
    """A key prefix of this test alone; its keys are deleted afterwards."""
    prefix = f"erpweb{secrets.token_hex(6)}"
    yield prefix
    for key in admin.scan_iter(f"{prefix}:*"):
        admin.delete(key)


@dataclasses.dataclass
class Replica:
    """One gateway served by uvicorn in its own thread, with its web channel."""

    url: str
    web: WebChannel
    loop: asyncio.AbstractEventLoop

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the replica's event loop, where its Socket.IO server lives."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    def push(self, key: str, text: str) -> None:
        message = OutgoingMessage(text=text, custom={"agent": "ana"})
        self.run(self.web.push(f"web:{key}", [message]))

    def windows(self, key: str) -> list[str]:
        return self.run(self.web.presence.sids(key))


Gateways = Callable[..., AbstractContextManager[list[Replica]]]


@pytest.fixture
def gateways(fake_rasa: FakeRasa, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Gateways:
    """Serve ``count`` gateway apps sharing one store and, with ``socketio_redis_url``, Redis."""
    monkeypatch.setenv("VERIFICATION_SECRET", VERIFICATION_SECRET.decode())
    built: list[WebChannel] = []

    def recording(*args: Any, **kwargs: Any) -> WebChannel:
        web = WebChannel(*args, **kwargs)
        built.append(web)
        return web

    monkeypatch.setattr(gateway, "WebChannel", recording)

    @contextmanager
    def run(count: int, **overrides: Any) -> Iterator[list[Replica]]:
        settings = dataclasses.replace(
            SETTINGS,
            gateway_db=str(tmp_path / "gateway.db"),
            web_session_secret=SECRET,
            **overrides,
        )
        with ExitStack() as stack:
            replicas = []
            for _ in range(count):
                app = gateway.create_app(
                    settings, db_check=lambda: True, rasa_client=fake_rasa,
                    transport=actions_transport(),
                )  # fmt: skip
                loops: list[asyncio.AbstractEventLoop] = []
                url = stack.enter_context(serve(_recording_loop(app, loops), lifespan=True))
                replicas.append(Replica(url, built[-1], loops[0]))
            yield replicas

    return run


def _recording_loop(app: Any, loops: list[asyncio.AbstractEventLoop]) -> Any:
    """The app, noting the event loop uvicorn runs it on (at its lifespan startup)."""

    async def recorded(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan" and not loops:
            loops.append(asyncio.get_running_loop())
        await app(scope, receive, send)

    return recorded


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def bot_texts(events: list[list[Any]]) -> list[str]:
    return [data.get("text") for name, data in events if name == "bot_uttered"]


def test_a_push_on_one_replica_reaches_a_window_on_another(gateways: Gateways, prefix: str) -> None:
    with (
        gateways(2, socketio_redis_url=REDIS_URL, rate_limit_redis_prefix=prefix) as (a, b),
        chat(b.url) as window,
    ):
        token, _ = start_session(window)
        key = key_of(token)
        seen_from_a = a.windows(key)
        a.push(key, "Ana from support here")
        time.sleep(0.3)
        received = drain(window)

    pushed = {"text": "Ana from support here", "metadata": {"linkTarget": "_blank", "agent": "ana"}}
    assert len(seen_from_a) == 1
    assert ["bot_uttered", pushed] in received


def test_a_push_fails_only_when_no_replica_holds_a_window(
    gateways: Gateways, prefix: str, admin: redis.Redis
) -> None:
    presence_key = ""
    with gateways(2, socketio_redis_url=REDIS_URL, rate_limit_redis_prefix=prefix) as (a, b):
        with chat(b.url) as window:
            token, _ = start_session(window)
            key = key_of(token)
            presence_key = f"{prefix}:presence:{key}"
            a.push(key, "while the window is open")
            remembered = admin.zrange(presence_key, 0, -1)
        gone = wait_until(lambda: not a.windows(key))
        with pytest.raises(ChannelDeliveryFailed, match="no chat window is open"):
            a.push(key, "after it closed")
        with pytest.raises(ChannelDeliveryFailed):
            b.push(key, "after it closed, from the replica that held it")
        with pytest.raises(ChannelDeliveryFailed):
            a.push(SessionTokens.new_key(), "to a conversation never opened")

    assert len(remembered) == 1
    assert gone and admin.exists(presence_key) == 0


def _server_now(admin: redis.Redis) -> float:
    seconds, micros = admin.time()
    return seconds + micros / 1e6


def test_an_entry_older_than_the_stale_limit_stops_counting_and_is_pruned(
    gateways: Gateways, prefix: str, admin: redis.Redis
) -> None:
    key = SessionTokens.new_key()
    presence_key = f"{prefix}:presence:{key}"
    with gateways(1, socketio_redis_url=REDIS_URL, rate_limit_redis_prefix=prefix) as (a,):
        stale_after = a.web.presence.stale_after  # type: ignore[attr-defined]
        # A window of a replica that died without a word: its last heartbeat is too old.
        admin.zadd(presence_key, {"sid-of-a-dead-replica": _server_now(admin) - stale_after - 1})
        with pytest.raises(ChannelDeliveryFailed):
            a.push(key, "to nobody")
        pruned = admin.zscore(presence_key, "sid-of-a-dead-replica")
        # The same window with a recent heartbeat counts.
        admin.zadd(presence_key, {"sid-of-a-live-replica": _server_now(admin) - stale_after + 5})
        a.push(key, "to a window on a live replica")

    assert pruned is None


async def test_the_windows_of_a_killed_replica_stop_counting_after_the_stale_limit(
    admin: redis.Redis, prefix: str
) -> None:
    # A replica in its own process, heartbeats every 0.2 s, then SIGKILL: no goodbye.
    script = (
        "import asyncio, sys\n"
        "from connectors.channels.presence import RedisPresence\n"
        "async def main():\n"
        f"    p = RedisPresence({REDIS_URL!r}, prefix={prefix!r}, connected=lambda sid: True,\n"
        "                      stale_after=1.5, refresh_every=0.2)\n"
        "    await p.join('conversation', 'sid-on-the-doomed-replica')\n"
        "    print('joined', flush=True)\n"
        "    await asyncio.sleep(3600)\n"
        "asyncio.run(main())\n"
    )
    doomed = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    reader = RedisPresence(REDIS_URL, prefix=prefix, connected=lambda sid: True,
                           stale_after=1.5, refresh_every=0.5)  # fmt: skip
    try:
        assert doomed.stdout is not None and doomed.stdout.readline() == "joined\n"
        await asyncio.sleep(2.5)  # longer than the stale limit: the heartbeats keep it
        alive = await reader.sids("conversation")
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=5)
        killed_at = time.monotonic()
        while await reader.sids("conversation"):
            assert time.monotonic() - killed_at < 5, "the killed replica's window still counts"
            await asyncio.sleep(0.1)
        forgotten_after = time.monotonic() - killed_at
        await asyncio.sleep(2.5)  # the key's own expiry
        expired = admin.exists(f"{prefix}:presence:conversation") == 0
    finally:
        if doomed.poll() is None:
            doomed.kill()
            doomed.wait()
        if doomed.stdout is not None:
            doomed.stdout.close()
        await reader.close()

    assert alive == ["sid-on-the-doomed-replica"]
    assert forgotten_after <= 1.5 + 0.5
    assert expired


def _rotation_across_replicas(a: Replica, b: Replica, fake_rasa: FakeRasa) -> dict[str, Any]:
    """A browser on A verifies while a copy of its old token is open on B."""
    with chat(a.url) as browser, chat(b.url) as copy:
        token, _ = start_session(browser)
        start_session(copy, token)
        key = key_of(token)
        both = sorted(a.windows(key))
        a.push(key, "before the verification")
        time.sleep(0.3)
        copy_before = bot_texts(drain(copy))
        drain(browser)
        fake_rasa.slot_values = {"verification": verified(f"web:{key}")}
        events = turn(browser, "jo@example.com")
        copy_disconnected = wait_until(lambda: not copy.connected)
        copy_after = drain(copy)
        a.push(key, "after the verification")
        browser_after = bot_texts(drain(browser))
        left = a.windows(key)
    return {
        "both": both, "copy_before": copy_before, "events": events,
        "copy_disconnected": copy_disconnected, "copy_after": copy_after,
        "browser_after": browser_after, "left": left,
    }  # fmt: skip


def test_a_verification_on_one_replica_disconnects_the_old_tokens_window_on_another(
    gateways: Gateways, prefix: str, fake_rasa: FakeRasa
) -> None:
    with gateways(2, socketio_redis_url=REDIS_URL, rate_limit_redis_prefix=prefix) as (a, b):
        seen = _rotation_across_replicas(a, b, fake_rasa)

    names = [name for name, _ in seen["events"]]
    assert len(seen["both"]) == 2
    assert seen["copy_before"] == ["before the verification"]
    assert names.index("session_confirm") < names.index("bot_uttered")
    assert seen["copy_disconnected"]
    assert "bot_uttered" not in [name for name, _ in seen["copy_after"]]
    assert seen["browser_after"] == ["after the verification"]
    assert len(seen["left"]) == 1 and seen["left"][0] in seen["both"]


@pytest.fixture
def gateway_account(admin: redis.Redis) -> Iterator[tuple[Production, str]]:
    """A throwaway Redis account made by the provisioning code, and its password."""
    profile = Production(name=f"erp_web_{secrets.token_hex(4)}", lock_db=REDIS_DB)
    password = secrets.token_urlsafe(24)
    redis_gateway_acl(profile, password, Provisioned())
    yield profile, password
    admin.execute_command("ACL", "DELUSER", profile.gateway_redis_user)
    for key in admin.scan_iter(f"{profile.lock_prefix}:*"):
        admin.delete(key)


def _denied(admin: redis.Redis, user: str) -> set[str]:
    """What Redis refused the account, from its ACL log."""
    return {entry["object"] for entry in admin.acl_log(count=128) if entry["username"] == user}


def test_the_gateway_account_may_use_its_channel_and_presence_keys_and_nothing_else(
    gateways: Gateways, gateway_account: tuple[Production, str], admin: redis.Redis,
    fake_rasa: FakeRasa,
) -> None:  # fmt: skip
    profile, password = gateway_account
    user, prefix = profile.gateway_redis_user, profile.lock_prefix
    url = f"redis://{user}@127.0.0.1:6379/{REDIS_DB}"  # the password apart, as deployed
    with gateways(2, socketio_redis_url=url, rate_limit_redis_password=password,
                  rate_limit_redis_prefix=prefix) as (a, b):  # fmt: skip
        seen = _rotation_across_replicas(a, b, fake_rasa)
        # A stale entry beside the live window: pruned by the account.
        key = SessionTokens.new_key()
        admin.zadd(f"{prefix}:presence:{key}", {"dead": _server_now(admin) - 3600})
        with pytest.raises(ChannelDeliveryFailed):
            a.push(key, "to nobody")
        pruned = admin.exists(f"{prefix}:presence:{key}") == 0

    assert seen["copy_before"] == ["before the verification"] and seen["copy_disconnected"]
    assert seen["browser_after"] == ["after the verification"] and pruned
    # Nothing the replicas needed was refused (redis-py's CLIENT SETINFO is optional).
    assert _denied(admin, user) <= {"client|setinfo"}

    account = redis.Redis.from_url(f"redis://{user}:{password}@127.0.0.1:6379/{REDIS_DB}")
    try:
        assert account.zadd(f"{prefix}:presence:x", {"sid": 1.0}) == 1
        assert account.publish(f"{prefix}:socketio", "not json: ignored") >= 0
        refused: list[Callable[[], Any]] = [
            lambda: account.zadd("erpassistant:presence:x", {"sid": 1.0}),  # another prefix
            lambda: account.zadd(f"{prefix}:lock:x", {"sid": 1.0}),  # Rasa's locks
            lambda: account.get(f"{prefix}:presence:x"),  # not a command it sends
            lambda: account.publish("socketio", "{}"),  # python-socketio's default channel
            lambda: account.publish(f"{prefix}:socketio2", "{}"),
            lambda: account.execute_command("SUBSCRIBE", "erpassistant:socketio"),
            lambda: account.execute_command("PSUBSCRIBE", f"{prefix}:*"),
            lambda: account.keys("*"),
            lambda: account.flushdb(),
        ]
        for attempt in refused:
            with pytest.raises(redis.exceptions.NoPermissionError):
                attempt()
    finally:
        account.close()


def test_without_redis_one_process_keeps_presence_in_memory_as_before(
    gateways: Gateways, admin: redis.Redis, prefix: str
) -> None:
    with gateways(1, rate_limit_redis_prefix=prefix) as (a,):
        manager = a.web.sio.manager
        with chat(a.url) as window:
            token, _ = start_session(window)
            key = key_of(token)
            windows = a.windows(key)
            a.push(key, "in memory")
            time.sleep(0.2)
            received = bot_texts(drain(window))
        gone = wait_until(lambda: not a.windows(key))
        with pytest.raises(ChannelDeliveryFailed):
            a.push(key, "after it closed")

    assert isinstance(a.web.presence, LocalPresence)
    assert type(manager) is socketio.AsyncManager
    assert len(windows) == 1 and received == ["in memory"] and gone
    assert list(admin.scan_iter(f"{prefix}:*")) == []


def test_a_redis_outage_never_crashes_a_turn_and_a_push_is_emitted_anyway(
    gateways: Gateways, fake_rasa: FakeRasa, caplog: pytest.LogCaptureFixture
) -> None:
    nowhere = "redis://127.0.0.1:1/7"  # nothing listens on port 1
    with (
        caplog.at_level(logging.WARNING, logger="connectors"),
        gateways(1, socketio_redis_url=nowhere, rate_limit_redis_prefix="erpwebdown") as (a,),
        chat(a.url) as window,
    ):
        token, _ = start_session(window)
        answered = bot_texts(turn(window, "hello"))
        a.push(key_of(token), "Ana, while Redis is down")
        time.sleep(0.2)
        pushed = bot_texts(drain(window))

    assert answered == ["hello"] and pushed == ["Ana, while Redis is down"]
    messages = [record.getMessage() for record in caplog.records]
    assert any("presence unknown until Redis answers again" in m for m in messages)
    assert any("with presence unknown, emitted anyway" in m for m in messages)
    assert fake_rasa.received[0].text == "hello"
