"""TRUSTED_PROXIES: which peers' X-Forwarded-For the gateway believes, parsed from the
environment and applied by uvicorn's own proxy-headers middleware (connectors/__main__.py's
server_config), as the rate limits and the loopback-only REST API see the client."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from connectors.__main__ import server_config
from connectors.gateway import create_app
from connectors.settings import GatewaySettings
from envvars import SettingsError
from tests.connectors.fakes import SETTINGS, FakeRasa, actions_transport
from tests.connectors.test_gateway_api import post

BEHIND_PROXY = dataclasses.replace(SETTINGS, trusted_proxies=("10.0.0.0/24",))
PROXY = "10.0.0.5"


def test_by_default_only_the_local_proxy_is_trusted() -> None:
    assert GatewaySettings.from_env({}).trusted_proxies == ("127.0.0.1", "::1")


def test_addresses_and_networks_are_read_in_order() -> None:
    env = {"TRUSTED_PROXIES": " 10.0.0.0/8, 192.168.7.2 ,fd00::/8,, ::1 "}

    assert GatewaySettings.from_env(env).trusted_proxies == (
        "10.0.0.0/8",
        "192.168.7.2",
        "fd00::/8",
        "::1",
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("proxy.internal", "got 'proxy.internal': 'proxy.internal' does not appear"),
        ("10.0.0.0/8,10.0.0.300", "got '10.0.0.300': '10.0.0.300' does not appear"),
        ("10.0.0.5/24", "got '10.0.0.5/24': 10.0.0.5/24 has host bits set"),
        ("10.0.0.0/33", "got '10.0.0.0/33'"),
    ],
    ids=["a-name", "a-bad-address-after-a-good-one", "host-bits", "prefix-too-long"],
)
def test_an_entry_that_is_no_address_or_network_is_refused_by_name(
    value: str, message: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        GatewaySettings.from_env({"TRUSTED_PROXIES": value})

    assert str(raised.value).startswith(
        "TRUSTED_PROXIES must be IP addresses or networks (10.0.0.0/8), "
    )
    assert message in str(raised.value)


@pytest.mark.parametrize("value", ["*", "10.0.0.1, *", "0.0.0.0/0", "::/0"])
def test_trusting_every_peer_is_refused_with_the_reason(value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        GatewaySettings.from_env({"TRUSTED_PROXIES": value})

    assert str(raised.value).startswith("TRUSTED_PROXIES must not be '")
    assert "any client could then choose its own address" in str(raised.value)


def test_the_server_believes_forwarded_headers_only_from_the_setting() -> None:
    config = server_config(BEHIND_PROXY)

    assert config.proxy_headers is True
    assert config.forwarded_allow_ips == ["10.0.0.0/24"]


@asynccontextmanager
async def served(
    fake_rasa: FakeRasa, peer: str, settings: GatewaySettings = BEHIND_PROXY
) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway behind uvicorn's middleware, as ``python -m connectors`` serves it, to a
    connection from ``peer``."""
    app = create_app(
        settings, db_check=lambda: True, rasa_client=fake_rasa, transport=actions_transport()
    )
    # JSON: uvicorn leaves logging alone (its text format would reconfigure it for the session).
    config = server_config(settings, app=app, fmt="json")
    config.load()
    transport = httpx.ASGITransport(app=config.loaded_app, client=(peer, 40000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client,
    ):
        yield client


async def say(client: httpx.AsyncClient, forwarded_for: str, sender: str = "u-1") -> int:
    response = await client.post(
        "/api/messages",
        json={"sender_id": sender, "text": "hi"},
        headers={"X-Forwarded-For": forwarded_for},
    )
    return response.status_code


async def test_a_trusted_proxy_s_forwarded_client_is_the_client(fake_rasa: FakeRasa) -> None:
    async with served(fake_rasa, PROXY) as client:
        status = await say(client, "127.0.0.1")

    assert status == 200
    [sent] = fake_rasa.received
    assert (sent.sender_id, sent.client) == ("rest:local:u-1", "ip:127.0.0.1")


async def test_an_untrusted_peer_s_forwarded_header_is_ignored(
    fake_rasa: FakeRasa, monkeypatch: pytest.MonkeyPatch
) -> None:
    # uvicorn's own variable does not widen the trust: the setting alone decides.
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
    async with served(fake_rasa, "10.9.9.9") as client:
        status = await say(client, "127.0.0.1")

    assert status == 403
    assert fake_rasa.received == []


async def test_a_loopback_address_the_client_put_before_the_proxy_s_is_ignored(
    fake_rasa: FakeRasa,
) -> None:
    """The proxy appends the address it saw; what the client sent itself comes before."""
    async with served(fake_rasa, PROXY) as client:
        status = await say(client, "127.0.0.1, 203.0.113.9")

    assert status == 403
    assert fake_rasa.received == []


async def test_by_default_the_local_proxy_s_forwarded_client_is_the_client(
    fake_rasa: FakeRasa,
) -> None:
    """The launcher's HAProxy on 127.0.0.1: a remote client behind it is not local."""
    async with served(fake_rasa, "127.0.0.1", SETTINGS) as client:
        remote = await say(client, "203.0.113.9")
        local = await say(client, "127.0.0.1")

    assert (remote, local) == (403, 200)
    assert [m.client for m in fake_rasa.received] == ["ip:127.0.0.1"]


async def test_clients_behind_one_proxy_have_a_rate_budget_each(fake_rasa: FakeRasa) -> None:
    settings = dataclasses.replace(BEHIND_PROXY, rate_limit_burst=1, rate_limit_per_minute=1)
    async with served(fake_rasa, PROXY, settings) as client:
        statuses = [
            await say(client, "127.0.0.1", "a"),
            await say(client, "127.0.0.1", "b"),
            await say(client, "127.0.0.2", "a"),
        ]

    assert statuses == [200, 429, 200]
    assert [m.client for m in fake_rasa.received] == ["ip:127.0.0.1", "ip:127.0.0.2"]


async def test_a_trusted_proxy_forwarding_no_client_is_the_client(
    fake_rasa: FakeRasa,
) -> None:
    """A trusted proxy that forwards no client is the client: here not a local one."""
    async with served(fake_rasa, PROXY) as client:
        status, body = await post(client, {"sender_id": "u-1", "text": "hi"})

    assert status == 403
    assert "only local clients" in body["error"]
