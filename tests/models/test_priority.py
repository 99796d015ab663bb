"""The generator server's low priority holds across sessions (Linux autogroups)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from models.priority import set_autogroup_nice

SERVER_LOWERED = """
from models.server import lower_priority
from models.settings import GeneratorSettings
print(lower_priority(GeneratorSettings.from_env()))
# Empty for a session in the kernel's default group (a container's first session, never
# setsid): only sessions made later get a group of their own.
print("group:", open("/proc/self/autogroup").read().strip())
"""


def test_a_kernel_without_autogroups_is_a_false_not_an_error(tmp_path: Path) -> None:
    assert set_autogroup_nice(10, str(tmp_path / "missing" / "autogroup")) is False


@pytest.mark.skipif(not Path("/proc/self/autogroup").exists(), reason="no autogroups here")
@pytest.mark.parametrize("own_session", [True, False])
def test_the_server_lowers_its_sessions_group_only_when_it_leads_the_session(
    own_session: bool,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SERVER_LOWERED],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        start_new_session=own_session,
        env={"GENERATOR_NICE": "10", "GENERATOR_IDLE": "0", "PATH": "/usr/bin:/bin"},
    )
    applied, group = done.stdout.splitlines()[-2:]
    assert group.startswith("group:")
    if own_session:
        assert applied == "nice 10 (its session's group too)"
        assert group.endswith("nice 10")
    else:
        assert applied == "nice 10"
        assert not group.endswith("nice 10")
