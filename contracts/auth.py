"""How one process proves itself to another over HTTP: ``Authorization: Bearer <token>``, the
token shared through the environment (the launcher's bot/secrets.py, an image's secrets).
Rasa's channel, the action server and the gateway's /metrics check it alike. Standard library
only: Rasa's environment imports it too."""

from __future__ import annotations

import hmac


def bearer_matches(authorization: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <token>``, compared in constant time.
    An empty ``token`` matches nothing.

    Example:
        >>> bearer_matches("Bearer s3cret", "s3cret"), bearer_matches("Bearer guess", "s3cret")
        (True, False)
    """
    scheme, _, value = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    # Bytes, because compare_digest refuses str with characters outside ASCII.
    return hmac.compare_digest(
        value.strip().encode("utf-8", "replace"), token.encode("utf-8", "replace")
    )
