"""`python -m bot.rasa_server run ...`: `rasa run` with its API token from RASA_TOKEN (Rasa's env).

`rasa run` takes the token of its HTTP API only as ``--auth-token`` on the command line,
where every local user can read it (`ps`, /proc/<pid>/cmdline). This adds the argument
inside the process instead, from the environment the launcher gives it. It also applies
bot/rasa_speedups.py (a cached response validator, a warm-up before the first connection) and
bot/rasa_turns.py (a turn whose custom action failed is not kept).
"""

from __future__ import annotations

import os
import sys

from bot.settings import RASA_API_TOKEN

TOKEN_ENV = RASA_API_TOKEN.name


def main() -> int:
    """Run `rasa` with the given arguments plus ``--auth-token $RASA_TOKEN``; 2 without it."""
    if sys.argv[1:2] != ["run"]:
        print("usage: python -m bot.rasa_server run [rasa run options]", file=sys.stderr)
        return 2
    token = RASA_API_TOKEN.read(os.environ)
    if not token:
        print(
            f"{TOKEN_ENV} is not set: Rasa's HTTP API would answer anyone, so it does not "
            "start without one. `python -m bot run` sets it (var/secrets.json).",
            file=sys.stderr,
        )
        return 2
    # One argument, `--auth-token=...`: a generated token may start with "-", which argparse
    # would take for an option if it came as a separate argument (1 start in 64 failed so).
    sys.argv = ["rasa", *sys.argv[1:], f"--auth-token={token}"]
    from rasa.__main__ import main as rasa_main

    from bot import rasa_speedups, rasa_turns

    rasa_speedups.apply()
    rasa_turns.apply()

    rasa_main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
