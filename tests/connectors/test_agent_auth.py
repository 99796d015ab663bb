"""Agent accounts and sessions: scrypt hashes, wrong passwords, idle and absolute expiry,
CSRF tokens, login limits, presence (on one replica and across replicas sharing a database),
the ``agents`` CLI and the agent settings."""

from __future__ import annotations

import asyncio
import hashlib
import io
import threading
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from connectors.agents.auth import (
    DEMO_AGENT,
    STREAM_ONLINE_SECONDS,
    AgentAuth,
    hash_password,
    verify_password,
)
from connectors.agents.canned import CannedReplies
from connectors.agents.cli import demo_agent, main, read_password
from connectors.agents.console import AgentConsole
from connectors.agents.errors import (
    AgentError,
    AgentExists,
    InvalidAgentInput,
    LoginBusy,
    LoginFailed,
    LoginThrottled,
    UnknownAgent,
)
from connectors.agents.settings import AgentSettings
from connectors.handoff.queue import HandoffQueue
from connectors.store import GatewayStore
from envvars import SettingsError
from tests.connectors.fakes import EventStream, open_event_stream

PASSWORD = "correct horse battery"
IDLE = 30 * 60.0
ABSOLUTE = 12 * 3600.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def auth(clock: Clock) -> AgentAuth:
    settings = AgentSettings(session_idle_seconds=IDLE, session_max_seconds=ABSOLUTE)
    agents = AgentAuth(GatewayStore(":memory:"), settings, clock=clock)
    agents.add_agent("alice", PASSWORD, "Alice Agent")
    return agents


def test_password_is_stored_as_a_salted_scrypt_hash(auth: AgentAuth) -> None:
    salt, stored = auth.store._query(
        "SELECT salt, password_hash FROM agents WHERE username = 'alice'", ()
    )[0]

    assert PASSWORD not in stored and len(salt) == 16
    algorithm, n, r, p, digest = stored.split("$")
    assert (algorithm, n, r, p) == ("scrypt", "32768", "8", "1")
    expected = hashlib.scrypt(
        PASSWORD.encode(), salt=salt, n=32768, r=8, p=1, maxmem=64 * 2**20, dklen=32
    )
    assert digest == expected.hex()
    assert verify_password(PASSWORD, salt, stored)
    assert not verify_password(PASSWORD + "!", salt, stored)


def test_the_same_password_hashes_differently_with_another_salt() -> None:
    first = hash_password(PASSWORD, b"a" * 16, n=2**4)
    second = hash_password(PASSWORD, b"b" * 16, n=2**4)

    assert first != second
    assert verify_password(PASSWORD, b"a" * 16, first)
    assert not verify_password(PASSWORD, b"b" * 16, first)


@pytest.mark.parametrize(
    "stored", ["", "!", "bcrypt$1$2$3$00", "scrypt$x$8$1$00"], ids=["empty", "no-password",
                                                                  "other-algorithm", "bad-cost"]
)  # fmt: skip
def test_a_malformed_stored_hash_never_verifies(stored: str) -> None:
    assert verify_password(PASSWORD, b"s" * 16, stored) is False


async def test_login_opens_a_session_that_the_cookie_token_finds(auth: AgentAuth) -> None:
    token, session = await auth.login("  Alice ", PASSWORD, client="10.0.0.1")

    found = await auth.session(token)
    assert found is not None and found.username == "alice"
    assert found.display_name == "Alice Agent"
    assert found.csrf_token == session.csrf_token and len(session.csrf_token) >= 40
    # Only a hash of the token is stored: a copy of the database is no login.
    rows = auth.store._query("SELECT token_hash FROM agent_sessions", ())
    assert rows == [(hashlib.sha256(token.encode()).hexdigest(),)]
    assert await auth.session(token + "x") is None
    assert await auth.session(None) is None


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "wrong password"), ("nobody", PASSWORD), ("alice", "")],
    ids=["wrong-password", "unknown-user", "empty-password"],
)
async def test_wrong_credentials_fail_the_same_way(
    auth: AgentAuth, username: str, password: str
) -> None:
    with pytest.raises(LoginFailed, match="wrong username or password"):
        await auth.login(username, password, client="10.0.0.1")

    assert auth.store._query("SELECT COUNT(*) FROM agent_sessions", ()) == [(0,)]


async def test_slack_only_agent_cannot_log_in(auth: AgentAuth) -> None:
    auth.ensure_agent("slack:U0AGENT1", "Slack user")

    with pytest.raises(LoginFailed):
        await auth.login("slack:U0AGENT1", "!", client="10.0.0.1")


async def test_session_expires_after_idle_time(auth: AgentAuth, clock: Clock) -> None:
    token, _ = await auth.login("alice", PASSWORD, client="10.0.0.1")

    clock.now += IDLE - 60
    assert await auth.session(token) is not None  # used: idle time starts again
    clock.now += IDLE - 60
    assert await auth.session(token) is not None
    clock.now += IDLE
    assert await auth.session(token) is None
    assert auth.store._query("SELECT COUNT(*) FROM agent_sessions", ()) == [(0,)]


async def test_a_check_without_touch_does_not_keep_the_session_alive(
    auth: AgentAuth, clock: Clock
) -> None:
    token, _ = await auth.login("alice", PASSWORD, client="10.0.0.1")

    clock.now += IDLE - 60
    assert await auth.session(token, touch=False) is not None
    clock.now += 120
    assert await auth.session(token) is None


async def test_session_expires_at_the_absolute_limit_even_when_used(
    auth: AgentAuth, clock: Clock
) -> None:
    token, session = await auth.login("alice", PASSWORD, client="10.0.0.1")
    assert session.expires_at == clock.now + ABSOLUTE

    while clock.now + IDLE / 2 < session.expires_at:
        clock.now += IDLE / 2
        assert await auth.session(token) is not None
    clock.now = session.expires_at
    assert await auth.session(token) is None


async def test_logout_ends_the_session(auth: AgentAuth) -> None:
    token, _ = await auth.login("alice", PASSWORD, client="10.0.0.1")

    await auth.logout(token)

    assert await auth.session(token) is None


async def test_csrf_token_must_match_the_session(auth: AgentAuth) -> None:
    _, session = await auth.login("alice", PASSWORD, client="10.0.0.1")
    _, other = await auth.login("alice", PASSWORD, client="10.0.0.2")

    assert auth.csrf_ok(session, session.csrf_token)
    assert not auth.csrf_ok(session, None)
    assert not auth.csrf_ok(session, "")
    assert not auth.csrf_ok(session, other.csrf_token)
    assert not auth.csrf_ok(session, session.csrf_token[:-1])


async def test_repeated_failures_lock_the_account_from_that_client_for_the_window(
    auth: AgentAuth, clock: Clock
) -> None:
    for _ in range(5):
        with pytest.raises(LoginFailed):
            await auth.login("alice", "guess guess", client="10.0.0.9")

    # Even the right password is not checked while locked.
    with pytest.raises(LoginThrottled) as locked:
        await auth.login("alice", PASSWORD, client="10.0.0.9")
    assert 0 < locked.value.retry_after <= 15 * 60
    # Alice logging in from her own machine is not locked out by the attacker.
    assert (await auth.login("alice", PASSWORD, client="10.0.0.1"))[1].username == "alice"

    clock.now += 15 * 60 + 1
    assert (await auth.login("alice", PASSWORD, client="10.0.0.9"))[1].username == "alice"


async def test_one_client_spraying_many_accounts_is_throttled(auth: AgentAuth) -> None:
    for index in range(20):
        with pytest.raises(LoginFailed):
            await auth.login(f"user{index}", "guess guess", client="10.0.0.9")

    with pytest.raises(LoginThrottled):
        await auth.login("alice", PASSWORD, client="10.0.0.9")
    assert (await auth.login("alice", PASSWORD, client="10.0.0.1"))[1].username == "alice"


async def test_guesses_from_many_addresses_lock_the_account_everywhere(
    auth: AgentAuth, clock: Clock
) -> None:
    for index in range(10):  # AGENT_LOGIN_ACCOUNT_MAX_FAILURES, one guess per address
        with pytest.raises(LoginFailed):
            await auth.login("alice", "guess guess", client=f"10.1.0.{index}")

    # A new address does not reset it, and not even the right password is checked.
    with pytest.raises(LoginThrottled) as locked:
        await auth.login("alice", PASSWORD, client="10.9.9.9")
    assert 0 < locked.value.retry_after <= 15 * 60
    assert "retry in" in str(locked.value)
    # Other accounts are not affected.
    auth.add_agent("bob", PASSWORD)
    assert (await auth.login("bob", PASSWORD, client="10.9.9.9"))[1].username == "bob"

    clock.now += 15 * 60 + 1
    assert (await auth.login("alice", PASSWORD, client="10.9.9.9"))[1].username == "alice"


async def test_successful_logins_do_not_count_as_failures(auth: AgentAuth) -> None:
    for index in range(15):
        token, _ = await auth.login("alice", PASSWORD, client=f"10.2.0.{index}")
        assert token


def slow_checks(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count password checks and the most running at once; each takes 0.2 s."""
    import threading
    import time

    from connectors.agents import auth as auth_module

    seen = {"checks": 0, "inside": 0, "most": 0}
    lock = threading.Lock()
    real = auth_module.verify_password

    def counted(password: str, salt: bytes, stored: str) -> bool:
        with lock:
            seen["checks"] += 1
            seen["inside"] += 1
            seen["most"] = max(seen["most"], seen["inside"])
        time.sleep(0.2)
        try:
            return real(password, salt, stored)
        finally:
            with lock:
                seen["inside"] -= 1

    monkeypatch.setattr(auth_module, "verify_password", counted)
    return seen


async def test_concurrent_logins_hash_at_most_the_cap_and_the_rest_are_told_to_retry(
    auth: AgentAuth, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = slow_checks(monkeypatch)
    started = time.perf_counter()

    results = await asyncio.gather(
        *[auth.login("alice", PASSWORD, client=f"10.3.0.{i}") for i in range(20)],
        return_exceptions=True,
    )

    busy = [r for r in results if isinstance(r, LoginBusy)]
    opened = [r for r in results if isinstance(r, tuple)]
    assert len(opened) == 2 and len(busy) == 18  # AGENT_LOGIN_MAX_HASHING = 2
    assert seen == {"checks": 2, "inside": 0, "most": 2}
    assert busy[0].retry_after >= 1
    assert time.perf_counter() - started < 2  # nobody queued behind the hashes
    # Once they finished, a login is checked again.
    assert (await auth.login("alice", PASSWORD, client="10.3.1.1"))[1].username == "alice"


async def test_concurrent_guesses_cannot_get_past_the_account_limit_together(
    gateway_db: str, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = AgentSettings(login_max_hashing=64)
    auth = AgentAuth(GatewayStore(gateway_db), settings, clock=clock)
    auth.add_agent("alice", PASSWORD)
    seen = slow_checks(monkeypatch)

    results = await asyncio.gather(
        *[auth.login("alice", f"guess {i}", client=f"10.4.0.{i}") for i in range(30)],
        return_exceptions=True,
    )

    assert seen["checks"] == 10  # AGENT_LOGIN_ACCOUNT_MAX_FAILURES
    assert sum(isinstance(r, LoginFailed) for r in results) == 10
    assert sum(isinstance(r, LoginThrottled) for r in results) == 20


async def test_agents_online_counts_recent_sessions_live_consoles_and_slack(
    auth: AgentAuth, clock: Clock
) -> None:
    auth.add_agent("bob", PASSWORD)
    auth.ensure_agent("slack:U0AGENT1")
    assert auth.agents_online() == 0

    token, _ = await auth.login("alice", PASSWORD, client="10.0.0.1")
    assert auth.agents_online() == 1
    with auth.live("bob"):
        assert auth.agents_online() == 2
    auth.note_active("slack:U0AGENT1")
    assert auth.agents_online() == 2

    clock.now += 5 * 60 + 1  # past AGENT_ONLINE_MINUTES with nothing done
    assert auth.agents_online() == 0
    with auth.live("alice"), auth.live("alice"):
        assert auth.agents_online() == 1
    await auth.session(token)
    await auth.logout(token)
    assert auth.agents_online() == 0


@pytest.mark.parametrize(
    ("username", "password", "error"),
    [
        ("a", PASSWORD, "username must be 2-64 characters"),
        ("alice smith", PASSWORD, "username must be"),
        ("slack:U0AGENT1", PASSWORD, "username must be"),
        ("carol", "short", "at least 8 characters, got 5"),
        ("carol", "        ", "must not be empty"),
        ("carol", "x" * 1025, "at most 1024 characters"),
    ],
    ids=["too-short-name", "space-in-name", "reserved-slack-name", "short-password",
         "blank-password", "huge-password"],
)  # fmt: skip
def test_bad_usernames_and_passwords_are_refused_with_the_reason(
    auth: AgentAuth, username: str, password: str, error: str
) -> None:
    with pytest.raises(InvalidAgentInput, match=error):
        auth.add_agent(username, password)


def test_usernames_are_unique_case_insensitively(auth: AgentAuth) -> None:
    with pytest.raises(AgentExists):
        auth.add_agent("ALICE", PASSWORD)


async def test_new_password_and_removal_end_sessions(auth: AgentAuth) -> None:
    token, _ = await auth.login("alice", PASSWORD, client="10.0.0.1")
    auth.set_password("alice", "a brand new passphrase")

    assert await auth.session(token) is None
    with pytest.raises(LoginFailed):
        await auth.login("alice", PASSWORD, client="10.0.0.1")
    token, _ = await auth.login("alice", "a brand new passphrase", client="10.0.0.1")

    assert auth.remove_agent("alice") is True
    assert await auth.session(token) is None
    assert auth.remove_agent("alice") is False
    with pytest.raises(UnknownAgent):
        auth.set_password("alice", PASSWORD)


async def test_demo_agent_is_created_then_its_password_refreshed(auth: AgentAuth) -> None:
    auth.ensure_demo_agent("first demo password")
    token, _ = await auth.login(DEMO_AGENT, "first demo password", client="10.0.0.1")

    auth.ensure_demo_agent("second demo password")

    assert await auth.session(token) is None
    with pytest.raises(LoginFailed):
        await auth.login(DEMO_AGENT, "first demo password", client="10.0.0.1")
    assert (await auth.login(DEMO_AGENT, "second demo password", client="10.0.0.1"))[0]
    assert auth.roles(DEMO_AGENT) == ["admin"]  # the demo shows every staff answer
    auth.set_role(DEMO_AGENT, "admin", granted=False)
    auth.ensure_demo_agent("third demo password")
    assert auth.roles(DEMO_AGENT) == []  # a role taken stays taken


# --- replicas sharing one database ---------------------------------------------------------


def replicas(gateway_db: str, clock: Clock, **settings: Any) -> tuple[AgentAuth, AgentAuth]:
    """Two gateway replicas' AgentAuth on one database; ``alice`` exists."""
    a, b = (
        AgentAuth(GatewayStore(gateway_db), AgentSettings(**settings), clock=clock)
        for _ in range(2)
    )
    a.add_agent("alice", PASSWORD)
    return a, b


async def test_failed_logins_on_one_replica_count_on_the_other(
    gateway_db: str, clock: Clock
) -> None:
    a, b = replicas(gateway_db, clock)

    for replica in (a, b, a, b, a):  # AGENT_LOGIN_MAX_FAILURES, spread over both
        with pytest.raises(LoginFailed):
            await replica.login("alice", "guess guess", client="10.6.0.9")

    for replica in (a, b):
        with pytest.raises(LoginThrottled, match="too many failed logins, retry in 900 s"):
            await replica.login("alice", PASSWORD, client="10.6.0.9")
    # The database holds hashes of the limit keys, never the name or the address.
    keys = [row[0] for row in a.store._query("SELECT DISTINCT key FROM agent_login_failures", ())]
    assert len(keys) == 3 and all(len(key) == 64 and "alice" not in key for key in keys)
    assert not any("10.6.0.9" in key for key in keys)


async def test_a_lockout_across_replicas_ends_after_the_window_and_old_failures_go(
    gateway_db: str, clock: Clock
) -> None:
    a, b = replicas(gateway_db, clock)
    for index in range(10):  # AGENT_LOGIN_ACCOUNT_MAX_FAILURES from ten addresses
        with pytest.raises(LoginFailed):
            await (a, b)[index % 2].login("alice", "guess guess", client=f"10.7.0.{index}")
    with pytest.raises(LoginThrottled):
        await b.login("alice", PASSWORD, client="10.7.9.9")

    clock.now += 15 * 60 - 1
    with pytest.raises(LoginThrottled) as locked:
        await a.login("alice", PASSWORD, client="10.7.9.9")
    assert locked.value.retry_after == pytest.approx(1)
    clock.now += 2

    with pytest.raises(LoginFailed):
        await a.login("alice", "one more guess", client="10.7.9.8")
    # Pruned as it went: only that failure's three keys are left.
    assert a.store._query("SELECT COUNT(*) FROM agent_login_failures", ()) == [(3,)]
    assert (await b.login("alice", PASSWORD, client="10.7.9.9"))[1].username == "alice"
    # The right password took back its own provisional failure.
    assert b.store._query("SELECT COUNT(*) FROM agent_login_failures", ()) == [(3,)]


async def test_concurrent_wrong_logins_on_two_replicas_never_try_more_than_the_limit(
    gateway_db: str, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = replicas(gateway_db, clock, login_max_hashing=64)
    seen = slow_checks(monkeypatch)
    start = threading.Barrier(20)
    results: list[object] = []

    def guess(replica: AgentAuth, index: int) -> None:
        start.wait()
        try:
            results.append(asyncio.run(replica.login("alice", f"guess {index}", client="10.8.0.1")))
        except AgentError as error:
            results.append(error)

    threads = [threading.Thread(target=guess, args=((a, b)[i % 2], i)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len(results) == 20
    assert seen["checks"] == 5  # AGENT_LOGIN_MAX_FAILURES, however the attempts interleaved
    assert sum(isinstance(r, LoginFailed) for r in results) == 5
    assert sum(isinstance(r, LoginThrottled) for r in results) == 15


async def open_events(auth: AgentAuth, token: str) -> EventStream:
    """A console event stream on ``auth``'s replica (pinging every 10 ms), once it is open."""
    queue = HandoffQueue(auth.store, agents_online=auth.agents_online)
    app = Starlette(routes=AgentConsole(auth, queue, CannedReplies(auth.store),
                                        heartbeat=0.01).routes())  # fmt: skip
    stream = await open_event_stream(app, token)
    name, _ = await stream.next()
    assert name == "snapshot"
    return stream


async def stamped(auth: AgentAuth, at: float) -> None:
    """Wait until a console stream's heartbeat has stamped its row at ``at``."""
    for _ in range(500):
        if auth.store._query("SELECT 1 FROM agent_streams WHERE seen_at = ?", (at,)):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"no heartbeat stamped the stream at {at}")


async def test_an_agent_streaming_on_one_replica_is_online_on_the_other(
    gateway_db: str, clock: Clock
) -> None:
    # AGENT_ONLINE_MINUTES of 10 s: the login's session soon stops counting by itself.
    a, b = replicas(gateway_db, clock, online_seconds=10)
    token, _ = await a.login("alice", PASSWORD, client="10.0.0.1")
    clock.now += 11
    assert (a.agents_online(), b.agents_online()) == (0, 0)

    stream = await open_events(a, token)
    assert b.agents_online() == 1
    for _ in range(3):  # long past the limit, kept online by the stream's heartbeat
        clock.now += 45
        await stamped(a, clock.now)
        assert b.agents_online() == 1

    await stream.close()
    # Here at once; there when the last stamp is older than the limit.
    assert (a.agents_online(), b.agents_online()) == (0, 1)
    clock.now += STREAM_ONLINE_SECONDS + 1
    assert b.agents_online() == 0


async def test_a_stream_without_heartbeats_stops_counting_on_other_replicas_after_the_limit(
    gateway_db: str, clock: Clock
) -> None:
    a, b = replicas(gateway_db, clock)

    with a.live("alice") as stream:  # stamped as it opened, then not (a replica gone quiet)
        clock.now += STREAM_ONLINE_SECONDS - 1
        assert b.agents_online() == 1
        clock.now += 2
        assert b.agents_online() == 0
        assert a.agents_online() == 1  # where it is open, it still counts
        a.heartbeat_now(stream)  # a replica that comes back stamps its row again
        assert b.agents_online() == 1


# --- the CLI ------------------------------------------------------------------------------


def run_cli(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(args, env)
    return code, out.getvalue(), err.getvalue()


async def test_cli_adds_lists_and_removes_agents(tmp_path: Path) -> None:
    env = {"GATEWAY_DB": str(tmp_path / "gateway.db"), "AGENT_PASSWORD": PASSWORD}

    code, out, _ = run_cli(["add", "Carol", "--name", "Carol C."], env)
    assert code == 0 and "added agent 'carol' (Carol C.)" in out
    code, _, err = run_cli(["add", "carol"], env)
    assert code == 1 and "already exists" in err
    code, out, _ = run_cli(["list"], env)
    assert code == 0 and "carol" in out and "Carol C." in out and "console" in out

    store = GatewayStore(env["GATEWAY_DB"])
    auth = AgentAuth(store, AgentSettings())
    assert (await auth.login("carol", PASSWORD, client="cli-test"))[1].display_name == "Carol C."
    store.close()

    code, out, _ = run_cli(["remove", "carol"], env)
    assert code == 0 and "removed" in out
    code, _, err = run_cli(["remove", "carol"], env)
    assert code == 1 and "no agent named 'carol'" in err


async def test_cli_grants_and_revokes_the_admin_role(tmp_path: Path) -> None:
    env = {"GATEWAY_DB": str(tmp_path / "gateway.db"), "AGENT_PASSWORD": PASSWORD}
    assert run_cli(["add", "dana"], env)[0] == 0
    code, out, _ = run_cli(["grant", "dana", "admin"], env)
    assert code == 0 and "role 'admin' granted to 'dana'" in out
    store = GatewayStore(env["GATEWAY_DB"])
    auth = AgentAuth(store, AgentSettings())
    try:
        assert auth.has_role("dana", "admin")
        code, _, err = run_cli(["grant", "nobody", "admin"], env)
        assert code == 1 and "nobody" in err
        assert run_cli(["revoke", "dana", "admin"], env)[0] == 0
        assert not auth.has_role("dana", "admin")
    finally:
        store.close()


@pytest.mark.parametrize(
    ("env", "error"),
    [({}, "set AGENT_PASSWORD or run this in a terminal"),
     ({"AGENT_PASSWORD": "short"}, "at least 8 characters")],
    ids=["no-password-no-terminal", "short-password"],
)  # fmt: skip
def test_cli_add_without_a_usable_password_fails_clearly(
    tmp_path: Path, env: dict[str, str], error: str
) -> None:
    code, _, err = run_cli(["add", "dave"], {"GATEWAY_DB": str(tmp_path / "g.db"), **env})

    assert code == 1 and error in err
    assert run_cli(["list"], {"GATEWAY_DB": str(tmp_path / "g.db")})[1].startswith("no agents")


def test_password_prompt_asks_twice_and_refuses_a_mismatch() -> None:
    answers = iter(["a long passphrase", "a long passphrase"])
    assert read_password({}, prompt=lambda _: next(answers), interactive=True) == (
        "a long passphrase"
    )
    answers = iter(["a long passphrase", "another passphrase"])
    with pytest.raises(AgentError, match="differ"):
        read_password({}, prompt=lambda _: next(answers), interactive=True)


async def test_demo_agent_for_make_run_only_with_a_password_from_the_environment(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "gateway.db")

    hint = demo_agent({"GATEWAY_DB": db})
    assert "python -m connectors agents add" in hint and "AGENT_DEMO_PASSWORD" in hint
    store = GatewayStore(db)
    assert AgentAuth(store, AgentSettings()).list_agents() == []
    store.close()

    short = demo_agent({"GATEWAY_DB": db, "AGENT_DEMO_PASSWORD": "demo"})
    assert short == "no demo agent: password must be at least 8 characters, got 4"

    line = demo_agent({"GATEWAY_DB": db, "AGENT_DEMO_PASSWORD": "demo passphrase"})
    assert "log in as 'demo'" in line and "demo passphrase" not in line
    store = GatewayStore(db)
    token, _ = await AgentAuth(store, AgentSettings()).login("demo", "demo passphrase", client="t")
    assert token
    store.close()


# --- settings -----------------------------------------------------------------------------


def test_settings_read_minutes_hours_and_slack_users() -> None:
    settings = AgentSettings.from_env(
        {
            "AGENT_SESSION_IDLE_MINUTES": "10",
            "AGENT_SESSION_MAX_HOURS": "2",
            "AGENT_ONLINE_MINUTES": "3",
            "AGENT_LOGIN_MAX_FAILURES": "7",
            "AGENT_LOGIN_ACCOUNT_MAX_FAILURES": "20",
            "AGENT_LOGIN_MAX_HASHING": "3",
            "SLACK_AGENT_CHANNEL": "C0AGENTS",
            "SLACK_AGENT_USER_IDS": "U0AAA=alice, U0BBB",
        }
    )

    assert settings.session_idle_seconds == 600 and settings.session_max_seconds == 7200
    assert settings.online_seconds == 180 and settings.login_max_failures == 7
    assert settings.login_account_max_failures == 20 and settings.login_max_hashing == 3
    assert settings.slack_agent_channel == "C0AGENTS"
    assert settings.slack_agent_users == {"U0AAA": "alice", "U0BBB": ""}


@pytest.mark.parametrize(
    ("env", "error"),
    [({"AGENT_SESSION_IDLE_MINUTES": "soon"}, "AGENT_SESSION_IDLE_MINUTES must be a number"),
     ({"AGENT_SESSION_MAX_HOURS": "0"}, "greater than 0"),
     ({"AGENT_LOGIN_MAX_FAILURES": "2.5"}, "AGENT_LOGIN_MAX_FAILURES must be an integer"),
     ({"AGENT_LOGIN_MAX_HASHING": "0"}, "AGENT_LOGIN_MAX_HASHING must be at least 1, got 0"),
     ({"SLACK_AGENT_CHANNEL": "#agents"}, "channel id like C0123ABCD"),
     ({"SLACK_AGENT_USER_IDS": "alice"}, "U123 or U123=username")],
    ids=["not-a-number", "zero", "fraction", "no-hashing", "channel-name", "user-name"],
)  # fmt: skip
def test_bad_settings_say_which_variable_and_why(env: dict[str, str], error: str) -> None:
    with pytest.raises(SettingsError, match=error):
        AgentSettings.from_env(env)
