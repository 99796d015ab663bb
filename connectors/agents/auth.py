"""Agent accounts and console sessions: scrypt password hashes, expiring sessions, login limits.

Accounts, sessions, failed logins and presence live in the gateway's database (the
GatewayStore's: SQLite, or PostgreSQL shared by every gateway replica), next to the handoff
queue, so the login limits and who is online are the same whichever replica is asked.

A session is a random token in an HttpOnly, SameSite=Strict cookie; the database keeps only
its SHA-256, so a copy of the database cannot be replayed as a login. Each session also
carries a CSRF token that state-changing requests must echo in the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import secrets
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from connectors.agents.errors import (
    AgentExists,
    InvalidAgentInput,
    LoginBusy,
    LoginFailed,
    LoginThrottled,
    UnknownAgent,
)
from connectors.agents.settings import AgentSettings
from connectors.roles import ADMIN, ROLES, may_change_orders
from connectors.store import GatewayStore

SESSION_COOKIE = "agent_session"
CSRF_HEADER = "X-CSRF-Token"
DEMO_AGENT = "demo"
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024
# scrypt cost: 32 MiB and about 0.1 s per hash on this machine's cores. Stored with each hash,
# so raising it later still verifies old hashes.
SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_LEN = 2**15, 8, 1, 32
_SCRYPT_MAXMEM = 64 * 1024 * 1024
_NO_PASSWORD = "!"
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{1,63}")
_SLACK_AGENT = re.compile(r"slack:[UW][A-Z0-9]{2,20}")
# An open console stream stamps its row at most this often (the console's heartbeat is 15 s),
# and counts on the other replicas until its stamp is this old.
STREAM_BEAT_SECONDS = 15.0
STREAM_ONLINE_SECONDS = 60.0


@dataclass(frozen=True)
class Agent:
    """An agent account; ``can_log_in`` is False for Slack-only agents (no password)."""

    username: str
    display_name: str
    created_at: float
    can_log_in: bool


@dataclass
class LiveStream:
    """An open console event stream; ``stamped_at`` is when its row was last written."""

    id: str
    username: str
    stamped_at: float = 0.0


@dataclass(frozen=True)
class AgentSession:
    """A live console session; ``expires_at`` is the absolute limit, idle expiry comes first."""

    username: str
    display_name: str
    csrf_token: str
    created_at: float
    last_seen: float
    expires_at: float


def hash_password(
    password: str, salt: bytes, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P
) -> str:
    """The scrypt hash of ``password`` as ``scrypt$n$r$p$<hex>`` (the salt is stored apart).

    Example:
        >>> hash_password("correct horse", b"0123456789abcdef", n=2**4).startswith("scrypt$16$8$1$")
        True
    """
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM,
        dklen=SCRYPT_LEN,
    )  # fmt: skip
    return f"scrypt${n}${r}${p}${digest.hex()}"


def verify_password(password: str, salt: bytes, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (``hash_password``), in constant time."""
    parts = stored.split("$")
    if len(parts) != 5 or parts[0] != "scrypt" or not all(p.isdigit() for p in parts[1:4]):
        return False
    n, r, p = (int(value) for value in parts[1:4])
    candidate = hash_password(password, salt, n=n, r=r, p=p)
    return hmac.compare_digest(candidate.encode(), stored.encode())


def check_username(username: str) -> str:
    """A console username, lower-cased; 2-64 characters of a-z, 0-9, ``.``, ``_``, ``@``, ``-``.

    Raises:
        InvalidAgentInput: the name has other characters or the wrong length.
    """
    name = username.strip().lower()
    if not _USERNAME.fullmatch(name):
        raise InvalidAgentInput(
            "username must be 2-64 characters of a-z, 0-9, '.', '_', '@' or '-', starting "
            f"with a letter or digit, got {username!r}"
        )
    return name


def check_password(password: str) -> str:
    """A usable password: 8 to 1,024 characters, not only spaces.

    Raises:
        InvalidAgentInput: the password is too short, too long or blank.
    """
    if not password.strip():
        raise InvalidAgentInput("password must not be empty or only spaces")
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidAgentInput(
            f"password must be at least {MIN_PASSWORD_CHARS} characters, got {len(password)}"
        )
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidAgentInput(
            f"password must be at most {MAX_PASSWORD_CHARS} characters, got {len(password)}"
        )
    return password


def _display_name(value: str | None, username: str) -> str:
    name = " ".join((value or "").split())
    name = "".join(ch for ch in name if unicodedata.category(ch) != "Cc")
    if len(name) > 80:
        raise InvalidAgentInput(f"display name must be at most 80 characters, got {len(name)}")
    return name or username


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class LoginLimiter:
    """Failed logins per key in a sliding window, kept in the gateway database so that every
    replica counts the same failures; a key over its limit waits for the window.

    Keys are ``user:<name>|ip:<address>`` (guessing one account from one place),
    ``ip:<address>`` (spraying many accounts, with four times the allowance) and
    ``user:<name>`` (guessing one account from many places: a lockout a new address does
    not reset). The database holds only a SHA-256 of each key. ``fail`` checks the limits
    and records the failure in one transaction, serialised with every other one on all
    replicas, so attempts racing each other cannot get past a limit together. Times come
    from ``clock``, wall time by default: replicas' clocks are assumed to agree to within a
    few seconds (NTP), which is nothing against a window of minutes.

    Blocking: call it from a worker thread.

    Example:
        >>> limiter = LoginLimiter(GatewayStore(":memory:"), max_failures=2, window=60,
        ...                        clock=lambda: 0.0)
        >>> first, second = limiter.fail(["k"]), limiter.fail(["k"])
        >>> limiter.retry_after(["k"])
        60.0
    """

    def __init__(
        self,
        store: GatewayStore,
        *,
        max_failures: int,
        window: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.max_failures = max_failures
        self.window = window
        self._clock = clock

    def retry_after(self, keys: list[str], limits: list[int] | None = None) -> float:
        """Seconds until every key is under its limit again; 0.0 when a login may be tried.

        A read without the cross-replica lock: a quick refusal while a key is locked out.
        """
        now = self._clock()
        return self._wait(self.store._query, keys, limits, now)

    def fail(self, keys: list[str], limits: list[int] | None = None) -> list[int]:
        """Count one failed login against each key, unless a key is already at its limit.

        Returns:
            The failure's rows, for ``forgive``.

        Raises:
            LoginThrottled: a key is at its limit; nothing was counted.
        """
        now = self._clock()
        with self.store.transaction() as db:

            def query(sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
                return [tuple(row) for row in db.execute(sql, params).fetchall()]

            wait = self._wait(query, keys, limits, now)
            if wait > 0:
                raise LoginThrottled(wait)
            db.execute(
                "DELETE FROM agent_login_failures WHERE failed_at <= ?", (now - self.window,)
            )
            return [
                int(
                    db.execute(
                        "INSERT INTO agent_login_failures (key, failed_at) VALUES (?, ?) "
                        "RETURNING id",
                        (_limit_key(key), now),
                    ).fetchone()[0]
                )
                for key in keys
            ]

    def forgive(self, failure: list[int], *, clear: str | None = None) -> None:
        """Take back ``failure`` (an attempt that turned out right) and, with ``clear``,
        forget every failure of that key (a successful login)."""
        with self.store.transaction() as db:
            db.executemany("DELETE FROM agent_login_failures WHERE id = ?", [(i,) for i in failure])
            if clear is not None:
                db.execute("DELETE FROM agent_login_failures WHERE key = ?", (_limit_key(clear),))

    def _wait(
        self,
        query: Callable[[str, tuple[Any, ...]], list[tuple[Any, ...]]],
        keys: list[str],
        limits: list[int] | None,
        now: float,
    ) -> float:
        wait = 0.0
        for index, key in enumerate(keys):
            limit = limits[index] if limits else self.max_failures
            # The limit-th newest failure in the window: once it is out, the key is under.
            rows = query(
                "SELECT failed_at FROM agent_login_failures WHERE key = ? AND failed_at > ? "
                "ORDER BY failed_at DESC LIMIT 1 OFFSET ?",
                (_limit_key(key), now - self.window, limit - 1),
            )
            if rows:
                wait = max(wait, float(rows[0][0]) + self.window - now)
        return wait


def _limit_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class AgentAuth:
    """Agent accounts, login, sessions, CSRF tokens and presence.

    Account methods are blocking (the CLI calls them directly); the console awaits the
    ``async`` ones, which run their database work in a worker thread.

    Example:
        >>> auth = AgentAuth(GatewayStore(":memory:"), AgentSettings())
        >>> auth.add_agent("alice", "a long passphrase", "Alice").display_name
        'Alice'
        >>> token, session = await auth.login("alice", "a long passphrase", client="10.0.0.1")
        >>> (await auth.session(token)).username
        'alice'
    """

    def __init__(
        self,
        store: GatewayStore,
        settings: AgentSettings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.settings = settings
        self._clock = clock
        self.limiter = LoginLimiter(
            store,
            max_failures=settings.login_max_failures,
            window=settings.login_window_seconds,
            clock=clock,
        )
        # Each password check costs 32 MiB and ~0.1 s of a core: a few at a time, and the
        # rest are told to retry instead of queueing without bound.
        self._hashing = threading.BoundedSemaphore(settings.login_max_hashing)
        # This replica's open console streams: certain here, told to the others through
        # the agent_streams rows their heartbeats stamp.
        self.replica = secrets.token_hex(8)
        self._live: Counter[str] = Counter()
        self._live_lock = threading.Lock()
        self._dummy: tuple[bytes, str] | None = None

    # Accounts (blocking).

    def add_agent(self, username: str, password: str, display_name: str | None = None) -> Agent:
        """Create a console agent that logs in with ``password``.

        Raises:
            InvalidAgentInput: the username, password or display name cannot be used.
            AgentExists: the username is taken.
        """
        name = check_username(username)
        salt = secrets.token_bytes(16)
        hashed = hash_password(check_password(password), salt)
        return self._insert(name, _display_name(display_name, name), hashed, salt)

    def ensure_agent(self, username: str, display_name: str | None = None) -> Agent:
        """The agent ``username``, created without a password (Slack agents) if missing.

        Raises:
            InvalidAgentInput: the name is neither a console username nor ``slack:<user id>``.
        """
        name = username if _SLACK_AGENT.fullmatch(username) else check_username(username)
        existing = self.get_agent(name)
        if existing is not None:
            return existing
        try:
            return self._insert(name, _display_name(display_name, name), _NO_PASSWORD, b"")
        except AgentExists:  # created by a concurrent call
            agent = self.get_agent(name)
            assert agent is not None
            return agent

    def set_password(self, username: str, password: str) -> None:
        """Change an agent's password and end all of its sessions.

        Raises:
            InvalidAgentInput: the password cannot be used.
            UnknownAgent: no such agent.
        """
        name = username.strip().lower() if not _SLACK_AGENT.fullmatch(username) else username
        salt = secrets.token_bytes(16)
        hashed = hash_password(check_password(password), salt)
        changed = self.store._execute(
            "UPDATE agents SET password_hash = ?, salt = ? WHERE username = ?", (hashed, salt, name)
        )
        if not changed:
            raise UnknownAgent(name)
        self.store._execute("DELETE FROM agent_sessions WHERE username = ?", (name,))

    def ensure_demo_agent(self, password: str) -> Agent:
        """Create the ``demo`` agent with ``password``, or reset its password if it exists.

        A new demo agent is an admin, so the demo shows every staff answer; roles taken from
        it later stay taken.
        """
        agent = self.get_agent(DEMO_AGENT)
        if agent is None:
            agent = self.add_agent(DEMO_AGENT, password, "Demo Agent")
            self.set_role(DEMO_AGENT, ADMIN, granted=True)
            return agent
        self.set_password(DEMO_AGENT, password)
        return agent

    def set_role(self, username: str, role: str, *, granted: bool) -> None:
        """Grant or revoke one of ROLES.

        Raises:
            InvalidAgentInput: no such role.
            UnknownAgent: no such agent.
        """
        if role not in ROLES:
            raise InvalidAgentInput(f"no role {role!r}; the roles: {', '.join(ROLES)}")
        name = username if _SLACK_AGENT.fullmatch(username) else username.strip().lower()
        if self.get_agent(name) is None:
            raise UnknownAgent(name)
        if granted:
            self.store._execute(
                "INSERT INTO agent_roles (username, role) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (name, role),
            )
        else:
            self.store._execute(
                "DELETE FROM agent_roles WHERE username = ? AND role = ?", (name, role)
            )

    def has_role(self, username: str, role: str) -> bool:
        """Whether the agent holds ``role`` now (read at every request, so a revoke counts
        at once)."""
        rows = self.store._query(
            "SELECT 1 FROM agent_roles WHERE username = ? AND role = ?", (username, role)
        )
        return bool(rows)

    def roles(self, username: str) -> list[str]:
        """The agent's roles, in ROLES order (read at every request, like has_role)."""
        rows = self.store._query("SELECT role FROM agent_roles WHERE username = ?", (username,))
        held = {row[0] for row in rows}
        return [role for role in ROLES if role in held]

    def may_change_orders(self, username: str) -> bool:
        """Whether the agent's roles let them change orders for customers (writer or admin)."""
        return may_change_orders(set(self.roles(username)))

    def remove_agent(self, username: str) -> bool:
        """Delete an agent and its sessions; False if there was no such agent."""
        name = username if _SLACK_AGENT.fullmatch(username) else username.strip().lower()
        self.store._execute("DELETE FROM agent_sessions WHERE username = ?", (name,))
        self.store._execute("DELETE FROM agent_roles WHERE username = ?", (name,))
        return self.store._execute("DELETE FROM agents WHERE username = ?", (name,)) == 1

    def get_agent(self, username: str) -> Agent | None:
        """The agent called ``username``, or None."""
        rows = self.store._query(
            "SELECT username, display_name, created_at, password_hash FROM agents "
            "WHERE username = ?",
            (username,),
        )
        return _agent(rows[0]) if rows else None

    def public_name(self, username: str) -> str:
        """How customers see the agent: their display name, or "A colleague" for Slack
        users without a console account (never a raw platform id)."""
        agent = self.get_agent(username)
        if agent is not None and agent.display_name and not agent.display_name.startswith("slack:"):
            return agent.display_name
        return "A colleague" if username.startswith("slack:") else username

    def list_agents(self) -> list[Agent]:
        """Every agent, by username."""
        rows = self.store._query(
            "SELECT username, display_name, created_at, password_hash FROM agents "
            "ORDER BY username",
            (),
        )
        return [_agent(row) for row in rows]

    def _insert(self, name: str, display: str, hashed: str, salt: bytes) -> Agent:
        now = self._clock()
        inserted = self.store._execute(
            "INSERT INTO agents (username, display_name, password_hash, salt, "
            "created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (name, display, hashed, salt, now),
        )
        if not inserted:
            raise AgentExists(name)
        return Agent(name, display, now, hashed != _NO_PASSWORD)

    # Sessions.

    async def login(self, username: str, password: str, *, client: str) -> tuple[str, AgentSession]:
        """Check a username and password; on success open a session.

        Args:
            username: as typed (case and surrounding spaces are ignored).
            password: as typed.
            client: the client's address, for the per-client failure limit.

        Returns:
            The session token (for the cookie only) and the session.

        Raises:
            LoginThrottled: too many recent failures for this account from this client,
                from this client overall, or for this account from anywhere; nothing is
                checked.
            LoginBusy: ``login_max_hashing`` password checks are already running; nothing
                is checked.
            LoginFailed: wrong username or password (the same error and about the same time
                for an unknown username).
        """
        name = username.strip().lower()[:64]
        settings = self.settings
        keys = [f"user:{name}|ip:{client}", f"ip:{client}", f"user:{name}"]
        limits = [
            settings.login_max_failures,
            4 * settings.login_max_failures,
            settings.login_account_max_failures,
        ]
        wait = await self.store._run(self.limiter.retry_after, keys, limits)
        if wait > 0:
            raise LoginThrottled(wait)
        if not self._hashing.acquire(blocking=False):
            raise LoginBusy()
        try:
            # Counted as a failure until it proves right, checked and counted in one
            # transaction, so attempts running at the same time on any replica cannot get
            # past the limits together.
            attempt = await self.store._run(self.limiter.fail, keys, limits)
            ok = await self.store._run(self._check, name, password[:MAX_PASSWORD_CHARS])
        finally:
            self._hashing.release()
        if not ok:
            raise LoginFailed()
        await self.store._run(partial(self.limiter.forgive, attempt, clear=keys[0]))
        return await self.store._run(self._open_session, name)

    async def session(self, token: str | None, *, touch: bool = True) -> AgentSession | None:
        """The live session for a cookie token, or None if missing, unknown or expired.

        With ``touch`` a valid session's ``last_seen`` moves forward, so idle expiry counts
        from the agent's last request (the live event stream checks without touching, so an
        open but unused console still goes idle). An expired session is deleted.
        """
        if not token or len(token) > 200:
            return None
        return await self.store._run(self._session, _token_hash(token), touch)

    async def logout(self, token: str | None) -> None:
        """End the session of ``token`` (nothing happens for an unknown token)."""
        if token:
            await self.store._run(
                self.store._execute,
                "DELETE FROM agent_sessions WHERE token_hash = ?",
                (_token_hash(token),),
            )

    @staticmethod
    def csrf_ok(session: AgentSession, header: str | None) -> bool:
        """Whether a request's CSRF header matches its session's token (constant time)."""
        return bool(header) and hmac.compare_digest(
            session.csrf_token.encode(), (header or "").encode("utf-8", "surrogatepass")
        )

    def _check(self, name: str, password: str) -> bool:
        rows = self.store._query(
            "SELECT salt, password_hash FROM agents WHERE username = ?", (name,)
        )
        if not rows or rows[0][1] == _NO_PASSWORD:
            # Spend the same time as a real check, so timing does not tell which names exist.
            salt, stored = self._dummy_hash()
            verify_password(password, salt, stored)
            return False
        return verify_password(password, bytes(rows[0][0]), str(rows[0][1]))

    def _dummy_hash(self) -> tuple[bytes, str]:
        if self._dummy is None:
            salt = secrets.token_bytes(16)
            self._dummy = (salt, hash_password(secrets.token_urlsafe(16), salt))
        return self._dummy

    def _open_session(self, name: str) -> tuple[str, AgentSession]:
        now = self._clock()
        # Expired sessions of anyone are swept here, so the table stays small.
        self.store._execute(
            "DELETE FROM agent_sessions WHERE expires_at <= ? OR last_seen <= ?",
            (now, now - self.settings.session_idle_seconds),
        )
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        expires = now + self.settings.session_max_seconds
        self.store._execute(
            "INSERT INTO agent_sessions (token_hash, username, csrf_token, created_at, "
            "last_seen, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
            (_token_hash(token), name, csrf, now, now, expires),
        )
        agent = self.get_agent(name)
        assert agent is not None
        return token, AgentSession(name, agent.display_name, csrf, now, now, expires)

    def _session(self, token_hash: str, touch: bool) -> AgentSession | None:
        rows = self.store._query(
            "SELECT s.username, a.display_name, s.csrf_token, s.created_at, s.last_seen, "
            "s.expires_at FROM agent_sessions s JOIN agents a ON a.username = s.username "
            "WHERE s.token_hash = ?",
            (token_hash,),
        )
        if not rows:
            return None
        session = AgentSession(*rows[0])
        now = self._clock()
        idle = self.settings.session_idle_seconds
        if now >= session.expires_at or now - session.last_seen >= idle:
            self.store._execute("DELETE FROM agent_sessions WHERE token_hash = ?", (token_hash,))
            return None
        # Written at most every few seconds, not on every request; idle expiry is that coarse.
        if touch and now - session.last_seen >= min(30.0, idle / 10):
            self.store._execute(
                "UPDATE agent_sessions SET last_seen = ? WHERE token_hash = ?", (now, token_hash)
            )
            session = dataclasses.replace(session, last_seen=now)
        return session

    # Presence.

    @contextmanager
    def live(self, username: str) -> Iterator[LiveStream]:
        """Count ``username`` as online while a console connection is open (blocking; the
        console's event stream uses ``streaming``).

        Example:
            >>> with auth.live("alice") as stream:
            ...     auth.heartbeat_now(stream)  # every ~15 s while it stays open
        """
        stream = self._stream_opened(username)
        try:
            yield stream
        finally:
            self._stream_closed(stream)

    @asynccontextmanager
    async def streaming(self, username: str) -> AsyncIterator[LiveStream]:
        """``live`` for the event loop: count ``username`` as online while the body runs,
        and call ``heartbeat`` on what it yields while the stream stays open."""
        stream = await self.store._run(self._stream_opened, username)
        try:
            yield stream
        finally:
            self._stream_closed(stream)

    async def heartbeat(self, stream: LiveStream) -> None:
        """Tell the other replicas that ``stream`` is still open (written at most every
        STREAM_BEAT_SECONDS; call it as often as the stream sends something)."""
        if self._clock() - stream.stamped_at >= STREAM_BEAT_SECONDS:
            await self.store._run(self.heartbeat_now, stream)

    def heartbeat_now(self, stream: LiveStream) -> None:
        """Stamp ``stream``'s row now (blocking; ``heartbeat`` throttles it)."""
        stream.stamped_at = self._clock()
        # An upsert: the row is back if a replica pruned it while this one could not write.
        self.store._execute(
            "INSERT INTO agent_streams (id, username, replica, seen_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at",
            (stream.id, stream.username, self.replica, stream.stamped_at),
        )

    def note_active(self, username: str) -> None:
        """Record that an agent acted outside the console (in Slack) just now."""
        self.store._execute(
            "UPDATE agents SET last_active = ? WHERE username = ?", (self._clock(), username)
        )

    def agents_online(self) -> int:
        """How many agents are online now, as any replica sees it.

        An agent is online with a console event stream open (on this replica, or on another
        one that stamped it in the last STREAM_ONLINE_SECONDS), a console session used in
        the last AGENT_ONLINE_MINUTES (and not expired), or an action in the Slack agent
        channel within the same time. The handoff logic uses this to tell customers
        honestly when nobody is there.

        A stream that closes stops counting here at once, and on the other replicas only when
        its last stamp is STREAM_ONLINE_SECONDS old (the row is left to lapse, not deleted):
        a console that reconnects to another replica (a restart, the balancer moving it)
        does not blink offline meanwhile, and the streams of a replica that dies without a
        word stop counting within that time too.
        """
        now = self._clock()
        since = now - min(self.settings.online_seconds, self.settings.session_idle_seconds)
        rows = self.store._query(
            "SELECT username FROM agent_sessions WHERE last_seen > ? AND expires_at > ? "
            "UNION SELECT username FROM agents WHERE last_active > ? "
            "UNION SELECT username FROM agent_streams WHERE seen_at > ? AND replica != ?",
            (
                since,
                now,
                now - self.settings.online_seconds,
                now - STREAM_ONLINE_SECONDS,
                self.replica,
            ),
        )
        with self._live_lock:
            live = set(self._live)
        return len({str(row[0]) for row in rows} | live)

    def _stream_opened(self, username: str) -> LiveStream:
        stream = LiveStream(secrets.token_urlsafe(16), username)
        # Streams no replica has stamped for the limit no longer count: swept here.
        self.store._execute(
            "DELETE FROM agent_streams WHERE seen_at <= ?", (self._clock() - STREAM_ONLINE_SECONDS,)
        )
        self.heartbeat_now(stream)
        with self._live_lock:
            self._live[username] += 1
        return stream

    def _stream_closed(self, stream: LiveStream) -> None:
        # The row stays: the other replicas keep counting it until its stamp is too old.
        with self._live_lock:
            self._live[stream.username] -= 1
            if self._live[stream.username] <= 0:
                del self._live[stream.username]


def _agent(row: tuple[Any, ...]) -> Agent:
    return Agent(str(row[0]), str(row[1]), float(row[2]), row[3] != _NO_PASSWORD)
