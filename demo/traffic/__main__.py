"""``python -m demo.traffic`` (``make demo-traffic``): fill a running install with a few
hundred realistic conversations for the agent console's analytics page.

Needs the assistant running (``make run``) and the demo ERP it answers from (var/erp.db, or
ERP_DATABASE_URL): the customers are its customers, with their own orders and invoices.
AGENT_DEMO_PASSWORD (the one ``make run`` was started with) lets the demo agent answer the
handoffs and the customers rate them; DEMO_TRAFFIC_API_KEY is for a gateway with
GATEWAY_API_KEYS; RATE_LIMIT_PER_MINUTE is the gateway's limit per client (60).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

from benchmarks.load.cast import Cast, load_cast
from benchmarks.load.scripts import think_range
from bot.settings import Ports
from demo.traffic.gateway import DemoTrafficError, Stats, check_gateway, run_traffic
from demo.traffic.plan import plan_traffic

PROGRESS_EVERY = 25


def main(argv: list[str] | None = None) -> int:
    """Plan the conversations, play them, print what happened; 0, or 2 with the reason."""
    parser = argparse.ArgumentParser(
        prog="python -m demo.traffic",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--url",
        default=f"http://127.0.0.1:{Ports.from_env().gateway}",
        help="the gateway (default: http://127.0.0.1:$PORT)",
    )
    parser.add_argument("--conversations", type=int, default=300, help="how many (300)")
    parser.add_argument("--seed", type=int, default=17, help="the same seed, the same plan (17)")
    parser.add_argument("--concurrency", type=int, default=8, help="customers talking at once (8)")
    parser.add_argument(
        "--agent-delay",
        type=think_range,
        default=(2.0, 15.0),
        help="seconds the demo agent takes to answer, MIN-MAX (2-15)",
    )
    args = parser.parse_args(argv)
    if args.conversations < 1 or not 1 <= args.concurrency <= 200:
        parser.error("--conversations must be at least 1 and --concurrency from 1 to 200")
    url = args.url.rstrip("/")
    try:
        check_gateway(url)
        cast = _cast()
    except (DemoTrafficError, ValueError) as error:
        print(f"demo-traffic: {error}", file=sys.stderr)
        return 2
    plan = plan_traffic(
        cast, count=args.conversations, seed=args.seed, agent_delay=args.agent_delay
    )
    password = os.environ.get("AGENT_DEMO_PASSWORD", "")
    if not password:
        print(
            "note: AGENT_DEMO_PASSWORD is not set, so nobody answers the handoffs (they stay "
            "waiting) and nobody rates; set it as for `make run`",
            flush=True,
        )
    started = time.monotonic()
    print(
        f"{len(plan)} conversations to {url} (seed {args.seed}), {args.concurrency} at once",
        flush=True,
    )
    try:
        stats = asyncio.run(
            run_traffic(
                plan,
                url=url,
                concurrency=args.concurrency,
                per_minute=_per_minute(),
                api_key=os.environ.get("DEMO_TRAFFIC_API_KEY", "").strip(),
                agent_password=password,
                seed=args.seed,
                report=Progress(len(plan)),
            )
        )
    except DemoTrafficError as error:
        print(f"demo-traffic: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    minutes = (time.monotonic() - started) / 60
    print(
        f"Done in {minutes:.1f} min: {stats.conversations} conversations, {stats.messages} "
        f"messages ({stats.errors} failed), {stats.handed_over} handed to a person, "
        f"{stats.answered} answered by the demo agent, {stats.ratings} rated.\n"
        f"See {url}/agent/analytics (an agent with the admin or support role: "
        "`.venv/bin/python -m connectors agents grant demo support`)."
    )
    return 0


def _cast() -> Cast:
    """The demo ERP's customers and products (erp/ reads var/erp.db or ERP_DATABASE_URL)."""
    from sqlalchemy.exc import SQLAlchemyError

    from erp.db import make_engine

    engine = make_engine()
    try:
        return load_cast(engine)
    except SQLAlchemyError as error:
        raise ValueError(
            f"the demo ERP cannot be read ({type(error).__name__}): `make seed` fills it"
        ) from None
    finally:
        engine.dispose()


def _per_minute() -> float:
    raw = os.environ.get("RATE_LIMIT_PER_MINUTE", "").strip()
    try:
        value = float(raw) if raw else 60.0
    except ValueError:
        value = 60.0
    return value if value > 0 else 60.0


class Progress:
    """A line every PROGRESS_EVERY conversations."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.shown = 0

    def __call__(self, stats: Stats) -> None:
        done = stats.conversations
        if done >= self.shown + PROGRESS_EVERY:
            self.shown = done
            print(
                f"  {done}/{self.total} conversations, {stats.messages} messages, "
                f"{stats.handed_over} handed over, {stats.answered} answered, "
                f"{stats.ratings} rated",
                flush=True,
            )


if __name__ == "__main__":
    sys.exit(main())
