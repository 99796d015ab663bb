"""Rate limits shared through Redis by several gateway replicas, under the account the
production profile creates for the gateway (its keys and its script only): one budget per
client whichever replica a message reaches, twenty messages at once, no client id stored in
Redis, and per-replica limits while Redis is unreachable."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
import redis

from bot.profile import Production
from bot.provision import Provisioned, redis_gateway_acl
from connectors.gateway import create_app
from connectors.ratelimit import RedisRateLimiter
from connectors.settings import GatewaySettings
from tests.connectors.fakes import SETTINGS, FakeRasa, actions_transport

PROFILE = Production(name="erp_test_rate", lock_db=6)
PASSWORD = "rate-limit-test-password-0123456789"
URL = f"redis://{PROFILE.gateway_redis_user}:{PASSWORD}@127.0.0.1:6379/6"
# As the production profile gives it to the gateway: the password apart.
PROFILE_URL = f"redis://{PROFILE.gateway_redis_user}@127.0.0.1:6379/6"


@pytest.fixture(scope="module", autouse=True)
def gateway_account() -> None:
    """The gateway's Redis account, as `PROFILE=production make run` creates it."""
    redis_gateway_acl(PROFILE, PASSWORD, Provisioned())


@pytest.fixture
async def limiters() -> AsyncIterator[list[RedisRateLimiter]]:
    prefix = PROFILE.lock_prefix
    admin = redis.Redis(host="127.0.0.1", db=6)
    for key in admin.scan_iter(f"{prefix}:rate:*"):
        admin.delete(key)
    admin.close()
    built = [RedisRateLimiter(URL, prefix=prefix, per_minute=6, burst=3) for _ in range(2)]
    yield built
    for limiter in built:
        await limiter.close()


async def test_two_replicas_share_one_budget_per_client(limiters: list[RedisRateLimiter]) -> None:
    first, second = limiters

    waits = [await (first if n % 2 else second).take("ip:203.0.113.7") for n in range(4)]

    assert waits[:3] == [0.0, 0.0, 0.0]
    assert 9.0 < waits[3] <= 10.0  # one token per 10 s at 6 a minute
    assert await second.take("ip:198.51.100.1") == 0.0  # another client, its own budget


async def test_twenty_at_once_through_two_replicas_let_exactly_the_burst_through(
    limiters: list[RedisRateLimiter],
) -> None:
    waits = await asyncio.gather(*(limiters[n % 2].take("telegram:user:42") for n in range(20)))

    assert sum(1 for wait in waits if wait == 0.0) == 3


async def test_redis_holds_hashed_keys_and_the_account_nothing_else(
    limiters: list[RedisRateLimiter],
) -> None:
    await limiters[0].take("ip:203.0.113.7")
    admin = redis.Redis(host="127.0.0.1", db=6)
    keys = [key.decode() for key in admin.scan_iter(f"{PROFILE.lock_prefix}:rate:*")]
    admin.close()
    assert keys and all("203.0.113.7" not in key for key in keys)

    account = redis.Redis.from_url(URL)
    try:
        with pytest.raises(redis.exceptions.NoPermissionError):
            account.get("session:someone-else")
        with pytest.raises(redis.exceptions.NoPermissionError):
            account.hgetall(keys[0])  # not a command its script needs
        with pytest.raises(redis.exceptions.NoPermissionError):
            account.flushdb()
    finally:
        account.close()


async def test_without_redis_each_replica_limits_alone_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter = RedisRateLimiter("redis://127.0.0.1:1/0", prefix="x", per_minute=6, burst=2)
    try:
        with caplog.at_level(logging.WARNING, logger="connectors"):
            waits = [await limiter.take("ip:203.0.113.7") for _ in range(3)]
    finally:
        await limiter.close()

    assert waits[:2] == [0.0, 0.0] and waits[2] > 0
    assert [r.message for r in caplog.records].count(
        next(r.message for r in caplog.records if "per replica" in r.message)
    ) == 1


async def test_two_gateways_answer_429_once_the_shared_budget_is_spent(
    limiters: list[RedisRateLimiter],
) -> None:
    settings = GatewaySettings(
        **{**SETTINGS.__dict__, "rate_limit_redis_url": PROFILE_URL,
           "rate_limit_redis_password": PASSWORD, "rate_limit_redis_prefix": PROFILE.lock_prefix,
           "rate_limit_per_minute": 1, "rate_limit_burst": 3},
    )  # fmt: skip
    apps = [create_app(settings, db_check=lambda: True, rasa_client=FakeRasa(),
                       transport=actions_transport()) for _ in range(2)]  # fmt: skip
    statuses = []
    async with apps[0].router.lifespan_context(apps[0]), apps[1].router.lifespan_context(apps[1]):
        clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://gw.test") for app in apps]  # fmt: skip
        try:
            for n in range(4):
                response = await clients[n % 2].post(
                    "/api/messages", json={"sender_id": "c-1", "text": f"hi {n}"}
                )
                statuses.append(response.status_code)
        finally:
            for client in clients:
                await client.aclose()

    # One REST sender, whichever gateway it reaches.
    assert statuses == [200, 200, 200, 429]
