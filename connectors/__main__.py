"""``python -m connectors``: serve the gateway on HOST:PORT; ``... agents`` manages agents;
``... db current|upgrade`` shows and migrates the gateway database's schema."""

from __future__ import annotations

import contextlib
import os
import sys
from types import FrameType
from typing import TYPE_CHECKING

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from connectors.logs import LogFormat, configure_logging
from connectors.settings import LOG_FORMAT, LOG_LEVEL, GatewaySettings

if TYPE_CHECKING:
    from starlette.types import ASGIApp


def main() -> None:
    """Run the gateway until SIGINT or SIGTERM; uvicorn drains connections on either.

    LOG_LEVEL sets the gateway's own lines' level, LOG_FORMAT=json writes JSON lines.
    """
    settings = GatewaySettings.from_env(os.environ)
    level = LOG_LEVEL.read(os.environ)
    fmt: LogFormat = "json" if LOG_FORMAT.read(os.environ) == "json" else "text"
    configure_logging(level, fmt)
    config = server_config(settings, level=level, fmt=fmt)
    server = _Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        sys.exit(3)  # uvicorn's STARTUP_FAILURE, as uvicorn.run exits


def server_config(
    settings: GatewaySettings,
    *,
    app: str | ASGIApp = "connectors.gateway:create_app",
    level: str = "INFO",
    fmt: str = "text",
) -> uvicorn.Config:
    """uvicorn's configuration of the gateway: where it listens, whom it believes.

    X-Forwarded-For is believed only from ``settings.trusted_proxies`` (TRUSTED_PROXIES),
    never from uvicorn's own FORWARDED_ALLOW_IPS: the rate limits and the loopback-only REST
    API count the address it names.

    Args:
        settings: the gateway's settings.
        app: the app factory's import path (uvicorn calls it; the app reads its own settings
            from the environment), or an app already built (tests).
        level: the log level of uvicorn's own lines.
        fmt: ``json`` sends uvicorn's lines to the root logger's JSON handler.

    Example:
        >>> config = server_config(GatewaySettings(trusted_proxies=("10.0.0.0/8",)))
        >>> config.forwarded_allow_ips
        ['10.0.0.0/8']
    """
    return uvicorn.Config(
        app,
        factory=isinstance(app, str),
        host=settings.host,
        port=settings.port,
        log_level=level.lower(),
        # In JSON, uvicorn's own lines go to the root logger's JSON handler, not its format.
        log_config=None if fmt == "json" else LOGGING_CONFIG,
        # The sans-I/O WebSocket protocol: the legacy one is deprecated in websockets 14+.
        ws="websockets-sansio",
        # A request still running this long after a stop signal is cancelled.
        timeout_graceful_shutdown=5,
        proxy_headers=True,
        forwarded_allow_ips=list(settings.trusted_proxies),
    )


class _Server(uvicorn.Server):
    """uvicorn's server, ending the agent console's event streams when a stop begins.

    uvicorn waits for open responses before it stops, and an event stream never ends by
    itself; without this every open console would hold a shutdown for the whole grace time.
    """

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        from connectors.agents.console import stop_streams

        stop_streams()
        super().handle_exit(sig, frame)


if __name__ == "__main__":
    if sys.argv[1:2] == ["agents"]:
        from connectors.agents.cli import main as agents

        sys.exit(agents(sys.argv[2:], os.environ))
    if sys.argv[1:2] == ["db"]:
        from connectors.migrations.cli import main as database

        sys.exit(database(sys.argv[2:]))
    main()
