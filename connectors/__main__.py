"""``python -m connectors``: serve the gateway with uvicorn on HOST:PORT from the environment."""

from __future__ import annotations

import logging
import os

import uvicorn

from connectors.settings import GatewaySettings


def main() -> None:
    """Run the gateway until SIGINT or SIGTERM; uvicorn drains connections on either."""
    settings = GatewaySettings.from_env()
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    # Only our logger at LOG_LEVEL: httpx logs every request URL at INFO, which is noise.
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("connectors").setLevel(level)
    uvicorn.run(
        "connectors.gateway:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_level=level.lower(),
        # The sans-I/O WebSocket protocol: the legacy one is deprecated in websockets 14+.
        ws="websockets-sansio",
    )


if __name__ == "__main__":
    main()
