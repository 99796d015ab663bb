"""deploy/provision.py: the one-shot job that runs bot/provision.py in a container."""

from __future__ import annotations

import os
import subprocess
import sys

from bot.profile import ACCOUNT_SECRETS
from tests.deploy.conftest import DEPLOY, ROOT


def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG")}
    return subprocess.run(
        [sys.executable, str(DEPLOY / "provision.py")],
        cwd=ROOT,
        env={**base, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_missing_passwords_are_named_and_nothing_is_generated() -> None:
    done = run({"RASA_TRACKER_PG_PASSWORD": "set"})

    assert done.returncode == 2
    missing = [name for name in ACCOUNT_SECRETS if name != "RASA_TRACKER_PG_PASSWORD"]
    assert f"{', '.join(missing)} not set" in done.stderr
    assert done.stdout == ""  # nothing provisioned


def test_a_bad_setting_is_named() -> None:
    done = run({**{name: "pw" for name in ACCOUNT_SECRETS}, "PRODUCTION_NAME": "9lives"})

    assert done.returncode == 2
    assert "PRODUCTION_NAME must be letters, digits and _" in done.stderr


def test_an_unreachable_service_is_named() -> None:
    # Port 9 (discard) on loopback: nothing listens there, the refusal is immediate.
    done = run(
        {
            **{name: "pw" for name in ACCOUNT_SECRETS},
            "PRODUCTION_POSTGRES_ADMIN_URL": "postgresql://postgres@127.0.0.1:9/postgres",
        }
    )

    assert done.returncode == 1
    assert "Cannot provision: PostgreSQL at 127.0.0.1:9" in done.stderr
