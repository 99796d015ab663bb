#!/usr/bin/env python3
"""The few `rabbitmqctl` commands bot/provision.py runs, over RabbitMQ's management HTTP API.

`rabbitmqctl` speaks Erlang distribution to the broker's node: it needs the node's cookie and
a route to it, which a container beside the broker (or a managed RabbitMQ) does not give. The
management API does, with an administrator's user and password. Point ``RABBITMQCTL`` at this
file and bot/provision.py creates the vhost and the accounts through it, unchanged:

- ``RABBITMQ_MANAGEMENT_URL``: e.g. ``http://rabbitmq:15672`` (``https://`` for a managed one)
- ``RABBITMQ_ADMIN_USER`` / ``RABBITMQ_ADMIN_PASSWORD``: an account tagged ``administrator``

Commands (after ``-q``, as bot/provision.py sends them; passwords come on stdin, as
``rabbitmqctl`` reads them): ``list_vhosts``, ``add_vhost V``, ``list_users``,
``add_user U``, ``change_password U``, ``set_permissions -p V U CONF WRITE READ``.
Exit 0 on success, 1 when the API refuses or cannot be reached, 64 on a command it does not
know. Standard library only: it runs with any Python 3.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

TIMEOUT_S = 10
USAGE = 64  # rabbitmqctl's exit code for a usage error


class ApiError(RuntimeError):
    """The management API refused a request or could not be reached."""


class Management:
    """A minimal client of the management API with one administrator account."""

    def __init__(self, url: str, user: str, password: str) -> None:
        if not url.startswith(("http://", "https://")):
            raise ApiError(f"RABBITMQ_MANAGEMENT_URL must be an http(s):// URL, got {url!r}")
        if not user or not password:
            raise ApiError("RABBITMQ_ADMIN_USER and RABBITMQ_ADMIN_PASSWORD must both be set")
        self.url = url.rstrip("/")
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self._auth = f"Basic {token}"

    def call(self, method: str, path: str, body: dict[str, str] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", self._auth)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                payload = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")[:300]
            raise ApiError(f"{method} {path}: HTTP {error.code} {detail}") from None
        except (urllib.error.URLError, OSError) as error:
            raise ApiError(f"cannot reach {self.url}: {error}") from None
        return json.loads(payload) if payload.strip() else None


def _segment(name: str) -> str:
    """A vhost or user name as one URL path segment ("/" included)."""
    return quote(name, safe="")


def run(api: Management, args: list[str], read_password: Callable[[], str]) -> str:
    """Carry out one command; return what `rabbitmqctl -q` would print.

    ``read_password`` is called only by the commands that take one (standard input is read
    only then: a caller that passes none may leave it open).

    Raises:
        ApiError: the API refused or could not be reached.
        ValueError: a command or arguments this shim does not know.
    """
    match args:
        case ["list_vhosts"]:
            return "".join(f"{vhost['name']}\n" for vhost in api.call("GET", "/api/vhosts"))
        case ["add_vhost", vhost]:
            api.call("PUT", f"/api/vhosts/{_segment(vhost)}", {})
        case ["list_users"]:
            users = api.call("GET", "/api/users")
            return "".join(f"{user['name']}\t[{_tags(user.get('tags'))}]\n" for user in users)
        case ["add_user" | "change_password", user]:
            password = read_password().rstrip("\r\n")
            if not password:
                raise ValueError(f"{args[0]} needs the password on standard input")
            # PUT creates the user or replaces its password; no tags: not an administrator.
            api.call("PUT", f"/api/users/{_segment(user)}", {"password": password, "tags": ""})
        case ["set_permissions", "-p", vhost, user, configure, write, read]:
            api.call(
                "PUT",
                f"/api/permissions/{_segment(vhost)}/{_segment(user)}",
                {"configure": configure, "write": write, "read": read},
            )
        case _:
            raise ValueError(f"unsupported command: {' '.join(args) or '(none)'}")
    return ""


def _tags(tags: object) -> str:
    """The API gives tags as a list (RabbitMQ 3.9+) or a comma-separated string."""
    if isinstance(tags, list):
        return ", ".join(str(tag) for tag in tags)
    return str(tags or "")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    while args and args[0] in ("-q", "--quiet"):
        args.pop(0)
    try:
        api = Management(
            os.environ.get("RABBITMQ_MANAGEMENT_URL", ""),
            os.environ.get("RABBITMQ_ADMIN_USER", ""),
            os.environ.get("RABBITMQ_ADMIN_PASSWORD", ""),
        )
        sys.stdout.write(run(api, args, lambda: sys.stdin.read() if sys.stdin else ""))
    except ValueError as error:
        print(f"rabbitmqctl_http: {error}", file=sys.stderr)
        return USAGE
    except ApiError as error:
        print(f"rabbitmqctl_http: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
