"""`python deploy/provision.py`: create the production profile's accounts once, from a container.

The one-shot job of deploy/docker-compose.yml and of the Helm chart. It runs bot/provision.py
(what `PROFILE=production make run` runs at every start) with the settings of bot/profile.py
(``PRODUCTION_NAME``, ``PRODUCTION_POSTGRES_ADMIN_URL``, ``PRODUCTION_REDIS_ADMIN_URL``,
``RABBITMQCTL``...) and the accounts' passwords from the environment, where the deployment's
secrets put them: they must be the ones Rasa is given, so none is generated here.

``--seed-demo-erp`` then seeds the demo ERP into ``ERP_DATABASE_URL`` when it has no tables
yet (with another ``ERP_MAPPING``, checks that the mapping resolves there), as `make run` does.

Exit 0 when every account is in place, 1 when a service refused or could not be reached,
2 when a setting or password is missing or unusable.
"""

from __future__ import annotations

import argparse
import os
import sys

from bot.profile import ACCOUNT_SECRETS, Production, ProfileError
from bot.provision import ProvisionError, provision
from bot.settings import ACCOUNT_PASSWORDS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python deploy/provision.py", description=__doc__)
    parser.add_argument(
        "--seed-demo-erp",
        action="store_true",
        help="then seed the demo ERP into ERP_DATABASE_URL if it is empty",
    )
    args = parser.parse_args(argv)
    passwords = {name: ACCOUNT_PASSWORDS[name].read(os.environ) for name in ACCOUNT_SECRETS}
    missing = [name for name, password in passwords.items() if not password]
    if missing:
        print(
            f"Cannot provision: {', '.join(missing)} not set (the deployment's secret "
            "gives them, and Rasa the same ones)",
            file=sys.stderr,
        )
        return 2
    try:
        settings = Production.from_env()
    except ProfileError as error:
        print(f"Cannot provision: {error}", file=sys.stderr)
        return 2
    try:
        report = provision(settings, passwords)
    except ProvisionError as error:
        print(f"Cannot provision: {error}", file=sys.stderr)
        return 1
    for line in report.done:
        print(line, flush=True)
    if args.seed_demo_erp:
        from bot.launcher import ensure_seeded

        print(f"demo ERP: {ensure_seeded()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
