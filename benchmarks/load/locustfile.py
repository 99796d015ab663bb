"""Locust users that chat with the gateway's web channel as customers do (`make bench-load`).

Each user is one demo customer (benchmarks/load/cast.py) who visits again and again: a new session,
a conversation of benchmarks/load/scripts.py with think time between messages, then think time
before the next visit. Every turn is reported to locust as two requests, ``first`` (time to
the first text, a draft or a reply) and ``final`` (time to the final answer), with the turn's
kind as the request type, and appended to ``--records`` as JSON Lines.

Run it alone against a running gateway:
    locust -f benchmarks/load/locustfile.py --headless -u 10 -r 10 -t 60s \\
        --host http://127.0.0.1:8080 --think 5-10 --records var/bench/turns.jsonl
"""

from __future__ import annotations

import itertools
import random
import time
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from gevent import GreenletExit
from locust import User, events, task

from benchmarks.load.cast import Cast, load_cast, read_cast
from benchmarks.load.records import CUT_OFF, Turn, write_turn
from benchmarks.load.scripts import CONNECT, asks_identity, conversation, on_script, think_range
from benchmarks.load.webchat import Reply, WebChat

_user_numbers = itertools.count()


class TurnFailed(Exception):
    """A turn got no answer, an error reply, or lost its socket."""


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--think", default="5-10", help="seconds between messages, MIN-MAX")
    parser.add_argument("--cast", default="", help="cast JSON (default: read from the ERP)")
    parser.add_argument("--records", default="", help="append each turn here (JSON Lines)")
    parser.add_argument("--turn-timeout", type=float, default=60.0, help="seconds per turn")
    parser.add_argument("--settle", type=float, default=1.0, help="quiet seconds ending a turn")
    parser.add_argument("--seed", type=int, default=2026, help="seed of the users' choices")
    parser.add_argument(
        "--sticky-cookies",
        default="",
        env_var="LOCUST_STICKY_COOKIES",
        help="the balancer's sticky cookies (name=value,...): user n sends the n-th, as "
        "browsers the balancer placed on different gateway replicas do",
    )


@lru_cache(maxsize=1)
def _cast(path: str) -> Cast:
    if path:
        return read_cast(Path(path))
    from erp.db import make_engine

    return load_cast(make_engine())


@lru_cache(maxsize=1)
def _records(path: str) -> IO[str] | None:
    return Path(path).open("a", encoding="utf-8") if path else None


class WebChatUser(User):
    """A customer in the web chat widget."""

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        options = environment.parsed_options
        self.think = think_range(options.think)
        number = next(_user_numbers)
        self.rng = random.Random(options.seed * 1000 + number)
        self.cast = _cast(options.cast)
        self.person = self.rng.choice(self.cast.people)
        self.records = _records(options.records)
        if not self.host:
            raise ValueError("the gateway URL is missing: pass --host http://127.0.0.1:PORT")
        cookies = [c.strip() for c in options.sticky_cookies.split(",") if c.strip()]
        self.chat = WebChat(
            self.host,
            timeout=options.turn_timeout,
            settle=options.settle,
            cookie=cookies[number % len(cookies)] if cookies else "",
        )

    def wait_time(self) -> float:
        return self.rng.uniform(*self.think)

    def on_start(self) -> None:
        # Users started together would otherwise send their first messages in step.
        self.wait()

    def on_stop(self) -> None:
        self.chat.close()

    @task
    def visit(self) -> None:
        """One conversation in a new session."""
        at = time.time()
        try:
            self.chat.new_session()
        except ConnectionError as error:
            self._report(CONNECT, "", at, Reply(error=str(error)), fits=False)
            return
        previous = ""
        for number, step in enumerate(conversation(self.person, self.cast, self.rng)):
            if step.if_asked and not asks_identity(previous):
                continue
            if number:
                self.wait()
            at = time.time()
            try:
                reply = self.chat.say(step.text)
            except GreenletExit:
                # The run ended during the turn: the message sent is recorded, not counted.
                self._record(Turn(step.kind, at, None, None, CUT_OFF, False, step.text,
                                  self.chat.conversation))  # fmt: skip
                raise
            self._report(step.kind, step.text, at, reply, on_script(step, reply.text))
            if reply.error is not None:
                return
            previous = reply.text

    def _report(self, kind: str, text: str, at: float, reply: Reply, fits: bool) -> None:
        failure = TurnFailed(reply.error) if reply.error is not None else None
        elapsed = time.time() - at
        for name, seconds in (("first", reply.first_s), ("final", reply.final_s)):
            self.environment.events.request.fire(
                request_type=kind,
                name=name,
                response_time=(elapsed if seconds is None else seconds) * 1000,
                response_length=len(reply.text),
                exception=failure if seconds is None or name == "final" else None,
                context={},
            )
        self._record(Turn(kind, at, reply.first_s, reply.final_s, reply.error, fits, text,
                          self.chat.conversation, reply.reconnected))  # fmt: skip

    def _record(self, turn: Turn) -> None:
        if self.records is not None:
            write_turn(turn, self.records)
