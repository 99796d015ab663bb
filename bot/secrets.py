"""The secrets the assistant's processes share, generated once into var/secrets.json."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from bot import paths
from bot.settings import ACCOUNT_PASSWORDS, SHARED_SECRETS, environment

# What each proves (docs/security.md): RASA_TOKEN, the gateway to Rasa (its HTTP API and the
# gateway channel); ACTION_SERVER_TOKEN, Rasa to the action server; GATEWAY_INTERNAL_TOKEN,
# the action server to the gateway's /internal/stream; GENERATOR_TOKEN, the action server and
# the gateway to the generator's server (models.server); VERIFICATION_SECRET signs
# verification records; WEB_SESSION_SECRET signs the web chat's session tokens; METRICS_TOKEN,
# whoever scrapes /metrics on the gateway and the action server (docs/observability.md).
SECRET_NAMES = tuple(SHARED_SECRETS)


class SecretsError(RuntimeError):
    """The secrets file exists but cannot be used."""


def shared_secrets(
    path: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    names: tuple[str, ...] = SECRET_NAMES,
) -> dict[str, str]:
    """Every name of ``names`` (SECRET_NAMES, or bot.profile's ACCOUNT_SECRETS) with its
    value: from the environment when set there, otherwise from ``path`` (default
    var/secrets.json), where a missing one is generated once and kept, so that conversations
    signed before a restart stay valid after it.

    The file is written atomically with mode 0600; an existing one readable by others is
    made private.

    Example:
        >>> values = shared_secrets(environ={name: "set" for name in SECRET_NAMES})
        >>> values["RASA_TOKEN"]
        'set'

    Raises:
        SecretsError: the file is not a JSON object of strings, or cannot be read or written.
    """
    path = paths.SECRETS_FILE if path is None else path
    env = environment(environ)
    variables = {**SHARED_SECRETS, **ACCOUNT_PASSWORDS}
    from_env = {name: value for name in names if (value := variables[name].read(env))}
    if len(from_env) == len(names):
        return from_env
    stored = _read(path)
    missing = [name for name in names if name not in from_env and not stored.get(name)]
    if missing:
        # Hex: safe inside URLs and configuration files (an AMQP URL carries the password).
        stored.update({name: secrets.token_hex(24) for name in missing})
        _write(path, stored)
    return {name: from_env.get(name) or stored[name] for name in names}


def _read(path: Path) -> dict[str, str]:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise SecretsError(f"cannot read {path}: {error}") from error
    if not stat.S_ISREG(mode):
        raise SecretsError(f"{path} is not a regular file")
    try:
        if stat.S_IMODE(mode) & 0o077:
            path.chmod(0o600)
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise SecretsError(f"cannot read {path}: {error}") from error
    except json.JSONDecodeError as error:
        raise SecretsError(
            f"{path} is not valid JSON ({error}); delete it to generate new secrets"
        ) from None
    if not isinstance(data, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in data.items()
    ):
        raise SecretsError(
            f"{path} must be a JSON object of strings; delete it to generate new secrets"
        )
    return data


def _write(path: Path, values: Mapping[str, str]) -> None:
    """Replace ``path`` in one step: a reader sees the old file or the new one, never half."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # mkstemp creates the file with mode 0600, so the secrets are never readable by others.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(dict(values), file, indent=2, sort_keys=True)
                file.write("\n")
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError as error:
        raise SecretsError(f"cannot write {path}: {error}") from error
