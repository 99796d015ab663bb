"""Agent accounts and console sessions: scrypt password hashes, expiring sessions, login limits.

Accounts, sessions and presence live in the gateway's SQLite database (the GatewayStore
connection), next to the handoff queue. A session is a random token in an HttpOnly,
SameSite=Strict cookie; the database keeps only its SHA-256, so a copy of the database
cannot be replayed as a login. Each session also carries a CSRF token that state-changing
requests must echo in the ``X-CSRF-Token`` header.
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
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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

# "admin" reads the audit trail of ERP reads and writes and may do what every role may;
# "writer" may change orders for any customer (cancel, readdress, return) through the
# console's Ask panel. Every logged-in agent may look up any customer's records there.
ADMIN = "admin"
WRITER = "writer"
ROLES = (ADMIN, WRITER)


@dataclass(frozen=True)
class Agent:
    """An agent account; ``can_log_in`` is False for Slack-only agents (no password)."""

    username: str
    display_name: str
    created_at: float
    can_log_in: bool


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
    """Failed logins per key in a sliding window; a key over the limit waits for the window.

    Keys are ``user:<name>|ip:<address>`` (guessing one account from one place),
    ``ip:<address>`` (spraying many accounts, with four times the allowance) and
    ``user:<name>`` (guessing one account from many places: a lockout a new address does
    not reset).

    Example:
        >>> limiter = LoginLimiter(max_failures=2, window=60, clock=lambda: 0.0)
        >>> first, second = limiter.fail(["k"]), limiter.fail(["k"])
        >>> limiter.retry_after(["k"])
        60.0
    """

    def __init__(
        self, *, max_failures: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, keys: list[str], limits: list[int] | None = None) -> float:
        """Seconds until every key is under its limit again; 0.0 when a login may be tried."""
        now = self._clock()
        wait = 0.0
        for index, key in enumerate(keys):
            limit = limits[index] if limits else self.max_failures
            times = self._prune(key, now)
            if len(times) >= limit:
                wait = max(wait, times[len(times) - limit] + self.window - now)
        return wait

    def fail(self, keys: list[str]) -> float:
        """Count one failed login against each key; returns its time (for ``forgive``)."""
        now = self._clock()
        for key in keys:
            self._prune(key, now).append(now)
        return now

    def forgive(self, keys: list[str], at: float) -> None:
        """Take back one failure counted at ``at`` (an attempt that turned out right)."""
        for key in keys:
            times = self._failures.get(key)
            if times is not None and at in times:
                times.remove(at)

    def clear(self, key: str) -> None:
        """Forget the failures of ``key`` (a successful login)."""
        self._failures.pop(key, None)

    def _prune(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(self._failures) > 10_000:
            self._failures = {k: v for k, v in self._failures.items() if v}
            times = self._failures.setdefault(key, times)
        return times


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
            max_failures=settings.login_max_failures,
            window=settings.login_window_seconds,
            clock=clock,
        )
        # Each password check costs 32 MiB and ~0.1 s of a core: a few at a time, and the
        # rest are told to retry instead of queueing without bound.
        self._hashing = threading.BoundedSemaphore(settings.login_max_hashing)
        self._live: Counter[str] = Counter()
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
        """Create the ``demo`` agent with ``password``, or reset its password if it exists."""
        agent = self.get_agent(DEMO_AGENT)
        if agent is None:
            return self.add_agent(DEMO_AGENT, password, "Demo Agent")
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
        return bool({ADMIN, WRITER} & set(self.roles(username)))

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
        wait = self.limiter.retry_after(keys, limits)
        if wait > 0:
            raise LoginThrottled(wait)
        if not self._hashing.acquire(blocking=False):
            raise LoginBusy()
        # Counted as a failure until it proves right, so attempts running at the same time
        # cannot get past the limits together.
        attempt = self.limiter.fail(keys)
        try:
            ok = await self.store._run(self._check, name, password[:MAX_PASSWORD_CHARS])
        finally:
            self._hashing.release()
        if not ok:
            raise LoginFailed()
        self.limiter.forgive(keys, attempt)
        self.limiter.clear(keys[0])
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
    def live(self, username: str) -> Iterator[None]:
        """Count ``username`` as online while a console connection is open."""
        self._live[username] += 1
        try:
            yield
        finally:
            self._live[username] -= 1
            if self._live[username] <= 0:
                del self._live[username]

    def note_active(self, username: str) -> None:
        """Record that an agent acted outside the console (in Slack) just now."""
        self.store._execute(
            "UPDATE agents SET last_active = ? WHERE username = ?", (self._clock(), username)
        )

    def agents_online(self) -> int:
        """How many agents are online now.

        An agent is online with a live console connection, a console session used in the
        last AGENT_ONLINE_MINUTES (and not expired), or an action in the Slack agent channel
        within the same time. The handoff logic uses this to tell customers honestly when
        nobody is there.
        """
        now = self._clock()
        since = now - min(self.settings.online_seconds, self.settings.session_idle_seconds)
        rows = self.store._query(
            "SELECT username FROM agent_sessions WHERE last_seen > ? AND expires_at > ? "
            "UNION SELECT username FROM agents WHERE last_active > ?",
            (since, now, now - self.settings.online_seconds),
        )
        return len({str(row[0]) for row in rows} | set(self._live))


def _agent(row: tuple[Any, ...]) -> Agent:
    return Agent(str(row[0]), str(row[1]), float(row[2]), row[3] != _NO_PASSWORD)
