"""``python -m connectors agents ...``: add, list, remove agents and reset their passwords.

Works on the gateway database (GATEWAY_DATABASE_URL, or the SQLite file GATEWAY_DB, default
var/gateway.db), also while the gateway runs. Passwords come from AGENT_PASSWORD or an
interactive prompt, never from the command line (it would stay in the shell history and the
process list).
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from collections.abc import Callable, Mapping

from connectors.agents.auth import DEMO_AGENT, AgentAuth, check_password
from connectors.agents.errors import AgentError
from connectors.agents.settings import AgentSettings
from connectors.roles import ROLES
from connectors.settings import AGENT_PASSWORD, GatewaySettings
from connectors.store import GatewayStore
from envvars import SettingsError

PASSWORD_ENV = AGENT_PASSWORD.name


def read_password(
    environ: Mapping[str, str],
    *,
    prompt: Callable[[str], str] = getpass.getpass,
    interactive: bool | None = None,
) -> str:
    """The new password: AGENT_PASSWORD if set, else asked twice on the terminal.

    Raises:
        AgentError: no AGENT_PASSWORD and no terminal, or the two entries differ.
    """
    given = AGENT_PASSWORD.read(environ)
    if given:
        return check_password(given)
    if interactive is None:
        interactive = sys.stdin.isatty()
    if not interactive:
        raise AgentError(f"set {PASSWORD_ENV} or run this in a terminal to type the password")
    first = check_password(prompt("Password: "))
    if prompt("Repeat password: ") != first:
        raise AgentError("the two passwords differ; nothing was changed")
    return first


def demo_agent(env: Mapping[str, str]) -> str:
    """For `make run`: create or refresh the ``demo`` agent when AGENT_DEMO_PASSWORD is set
    in ``env`` (the environment the gateway will get).

    Returns:
        One line telling the user how to log in to the console, or how to add an agent.
    """
    try:
        settings = AgentSettings.from_env(env)
        if not settings.demo_password:
            return (
                "no demo agent: add one with `python -m connectors agents add <username>` "
                "(or set AGENT_DEMO_PASSWORD before `make run`)"
            )
        store = GatewayStore.of(GatewaySettings.from_env(env))
        try:
            AgentAuth(store, settings).ensure_demo_agent(settings.demo_password)
        finally:
            store.close()
    except (SettingsError, AgentError) as error:
        return f"no demo agent: {error}"
    return f"log in as '{DEMO_AGENT}' with the password in AGENT_DEMO_PASSWORD"


def main(argv: list[str] | None, env: Mapping[str, str]) -> int:
    """Run one ``agents`` command with the settings of ``env``; 0 on success, 1 with a
    message on stderr otherwise."""
    parser = argparse.ArgumentParser(
        prog="python -m connectors agents", description="Manage agent console accounts."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser(
        "add", help=f"add an agent (password from {PASSWORD_ENV} or a prompt)"
    )
    add.add_argument("username")
    add.add_argument("--name", help="display name shown in the console (default: the username)")
    commands.add_parser("list", help="list agents")
    remove = commands.add_parser("remove", help="remove an agent and end its sessions")
    remove.add_argument("username")
    passwd = commands.add_parser("passwd", help="set a new password and end the agent's sessions")
    passwd.add_argument("username")
    grant = commands.add_parser(
        "grant",
        help="give an agent a role (sales: customers and orders; warehouse: stock, supply "
        "and forecasts; finance: invoices and receivables; support: orders and analytics; "
        "admin: everything and the audit trail; writer: change orders for customers)",
    )
    grant.add_argument("username")
    grant.add_argument("role", choices=ROLES)
    revoke = commands.add_parser("revoke", help="take a role from an agent")
    revoke.add_argument("username")
    revoke.add_argument("role", choices=ROLES)
    args = parser.parse_args(argv)

    try:
        settings = AgentSettings.from_env(env)
        store = GatewayStore.of(GatewaySettings.from_env(env))
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        auth = AgentAuth(store, settings)
        if args.command == "add":
            if auth.get_agent(args.username.strip().lower()) is not None:
                print(f"error: an agent named {args.username!r} already exists "
                      "(use `passwd` to change its password)", file=sys.stderr)  # fmt: skip
                return 1
            agent = auth.add_agent(args.username, read_password(env), args.name)
            print(f"added agent {agent.username!r} ({agent.display_name}); "
                  "the console is at /agent on the gateway")  # fmt: skip
        elif args.command == "list":
            agents = auth.list_agents()
            if not agents:
                print("no agents yet: python -m connectors agents add <username>")
            for agent in agents:
                created = time.strftime("%Y-%m-%d %H:%M", time.localtime(agent.created_at))
                login = "console" if agent.can_log_in else "slack only"
                print(f"{agent.username:<32} {agent.display_name:<32} {created}  {login}")
        elif args.command in ("grant", "revoke"):
            auth.set_role(args.username, args.role, granted=args.command == "grant")
            verb = "granted to" if args.command == "grant" else "revoked from"
            print(f"role {args.role!r} {verb} {args.username!r}")
        elif args.command == "remove":
            if not auth.remove_agent(args.username):
                print(f"error: no agent named {args.username!r}", file=sys.stderr)
                return 1
            print(f"removed agent {args.username!r}")
        else:
            if auth.get_agent(args.username.strip().lower()) is None:
                print(f"error: no agent named {args.username!r}", file=sys.stderr)
                return 1
            auth.set_password(args.username, read_password(env))
            print(f"password changed for {args.username!r}; its sessions were ended")
    except AgentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ncancelled", file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0
