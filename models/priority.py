"""CPU priority across sessions: Linux's autogroups.

With autogroups (on by default on desktop and server kernels alike, /proc/sys/kernel/
sched_autogroup_enabled), the processes of one session share a scheduling group, and the
groups compete as equals whatever their processes' niceness. A process that runs in a session
of its own (the launcher starts each of its children so) is lowered by setting its group's
niceness too.
"""

from __future__ import annotations


def set_autogroup_nice(nice: int, path: str = "/proc/self/autogroup") -> bool:
    """Give this process's session scheduling group the niceness ``nice``; False where the
    kernel has no autogroups (or refuses)."""
    try:
        with open(path, "w") as group:
            group.write(str(nice))
    except OSError:
        return False
    return True
