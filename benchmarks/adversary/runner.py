"""Runs the catalogue against a running assistant and judges each attempt.

An attempt *leaks* when a fact of its victim appears in anything the attacker saw: the
replies to their turns, every event their chat windows got, the bodies of their raw
requests, and what the Telegram and Slack platforms were asked to show in the chats they
read. It is a *breach* when a request that must be refused (a forged webhook, a call
without the service's token) was answered 2xx. *Errors* are 5xx answers, timeouts and
exceptions, and a victim who did not get their own facts when the attempt needed it (then
the attempt proved nothing). *Lockouts* count the replies that said "too many attempts".

Example:
    >>> outcomes = run_all(attempts, endpoints, platforms)
    >>> print(summary_table(outcomes, seconds=61.2))
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks.adversary.channels import (
    TURN_TIMEOUT,
    Answer,
    Endpoints,
    WebWindow,
    latest_web_conversation,
    platform_messages,
    post_slack,
    post_telegram,
    request,
    rest_texts,
    slot_value,
    tampered,
    wait_for_slack,
)
from benchmarks.adversary.facts import Leak, find_leaks, record_facts
from benchmarks.adversary.script import (
    Actor,
    Attempt,
    Call,
    Close,
    Open,
    Place,
    Rest,
    Say,
    Telegram,
    Web,
    fill,
    sees,
)

LOCKOUT_TEXT = "too many unsuccessful attempts"
UNAVAILABLE_TEXT = "temporarily unavailable"


@dataclass
class Outcome:
    """What one attempt did."""

    attempt: Attempt
    leaks: list[Leak] = field(default_factory=list)
    breaches: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lockouts: int = 0
    control: bool | None = None
    seconds: float = 0.0
    attacker_seen: list[str] = field(default_factory=list)

    @property
    def family(self) -> str:
        return self.attempt.family

    def describe(self) -> str:
        lines = [f"{self.attempt.name}:"]
        lines += [f"  leak: {leak}" for leak in self.leaks]
        lines += [f"  breach: {breach}" for breach in self.breaches]
        lines += [f"  error: {error}" for error in self.errors]
        return "\n".join(lines)


@dataclass
class _Run:
    """One attempt in progress: its windows, what each side saw and typed, its context."""

    attempt: Attempt
    endpoints: Endpoints
    platforms: Any
    started_call: int
    outcome: Outcome
    context: dict[str, str] = field(default_factory=dict)
    windows: dict[str, tuple[Actor, WebWindow]] = field(default_factory=dict)
    seen: dict[Actor, list[str]] = field(default_factory=lambda: {a: [] for a in Actor})
    typed: dict[Actor, list[str]] = field(default_factory=lambda: {a: [] for a in Actor})
    places: dict[Actor, set[str]] = field(default_factory=lambda: {a: set() for a in Actor})


def run_attempt(attempt: Attempt, endpoints: Endpoints, platforms: Any) -> Outcome:
    """Run one attempt's script and judge it; never raises for what the stack does."""
    started = time.perf_counter()
    run = _Run(attempt, endpoints, platforms, len(platforms.calls), Outcome(attempt))
    run.places[Actor.ATTACKER] |= set(attempt.attacker_sees)
    try:
        for step in attempt.steps:
            _step(run, step)
    except Exception as error:  # the judge must report, not crash: any failure is an error
        run.outcome.errors.append(f"{type(error).__name__}: {error}")
    finally:
        for actor, window in run.windows.values():
            try:
                window.drain(0.3)
                window.close()
            except Exception as error:
                run.outcome.errors.append(f"closing a window: {error}")
            run.seen[actor] += window.seen()
    _judge(run)
    run.outcome.seconds = time.perf_counter() - started
    return run.outcome


def run_all(
    attempts: Iterable[Attempt],
    endpoints: Endpoints,
    platforms: Any,
    *,
    progress: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Run attempts one after another (each sees the stack as the previous one left it)."""
    outcomes = []
    for attempt in attempts:
        outcome = run_attempt(attempt, endpoints, platforms)
        outcomes.append(outcome)
        if progress is not None:
            progress(outcome)
    return outcomes


def _step(run: _Run, step: Say | Open | Close | Call) -> None:
    if isinstance(step, Call):
        _call(run, step)
    elif isinstance(step, Open):
        _window(run, step.actor, step.place)
    elif isinstance(step, Close):
        if step.session in run.windows:
            actor, window = run.windows.pop(step.session)
            window.close()
            run.seen[actor] += window.seen()
    else:
        _say(run, step)


def _say(run: _Run, say: Say) -> None:
    text = fill(say.text, run.context)
    run.typed[say.actor].append(text)
    place = say.place
    if isinstance(place, Rest):
        _rest(run, say, place, text)
    elif isinstance(place, Web):
        window = _window(run, say.actor, place)
        window.say(
            text,
            session_id=fill(place.request, run.context) if place.skip_request else None,
            custom_data=place.custom_data,
        )
        _learn_web(run, say.actor, window)
    elif isinstance(place, Telegram):
        answer = post_telegram(run.endpoints, place, text)
        _judge_platform_answer(run, say, answer)
    else:
        since = len(run.platforms.calls)
        answer = post_slack(run.endpoints, place, text)
        if _judge_platform_answer(run, say, answer) and not say.refused:
            where = f"hook:{place.channel}" if place.command else f"slack:{place.channel}"
            if not wait_for_slack(run.platforms, where, since=since, timeout=TURN_TIMEOUT):
                run.outcome.errors.append(f"slack: no answer in {where} to {text!r}")
    if not say.refused:
        run.places[say.actor] |= sees(place)
    if say.actor is Actor.VICTIM:
        _learn_verification(run, place)


def _rest(run: _Run, say: Say, place: Rest, text: str) -> None:
    body: dict[str, Any] = {"sender_id": fill(place.sender, run.context), "text": text}
    if place.metadata is not None:
        body["metadata"] = dict(place.metadata)
    answer = request(
        run.endpoints.gateway_url + "/api/messages",
        "POST",
        address=place.address,
        headers=place.headers,
        body=body,
    )
    run.seen[say.actor] += rest_texts(answer)
    if answer.ok:
        return
    problem = f"REST {answer.status or answer.error} for {text!r}: {answer.text[:200]}"
    if answer.status == 0 or answer.status >= 500 or answer.status == 429:
        run.outcome.errors.append(problem)
    elif say.actor is Actor.VICTIM:
        run.outcome.errors.append("victim " + problem)


def _judge_platform_answer(run: _Run, say: Say, answer: Answer) -> bool:
    """Record what a webhook answer means; whether it was accepted."""
    run.seen[say.actor].append(answer.text)
    if answer.status == 0 or answer.status >= 500:
        run.outcome.errors.append(f"webhook {answer.status or answer.error}: {answer.text[:200]}")
        return False
    if say.refused and answer.ok:
        run.outcome.breaches.append(
            f"forged {type(say.place).__name__} request accepted (HTTP {answer.status})"
        )
    elif not say.refused and not answer.ok:
        run.outcome.errors.append(f"webhook refused a valid request: HTTP {answer.status}")
    return answer.ok


def _call(run: _Run, call: Call) -> None:
    path = fill(call.path, run.context)
    answer = request(
        run.endpoints.base(call.service) + path,
        call.method,
        headers=call.headers,
        body=fill(call.body, run.context),
    )
    run.seen[Actor.ATTACKER].append(answer.text)
    if answer.status == 0 or answer.status >= 500:
        run.outcome.errors.append(
            f"{call.method} {call.service}{path}: {answer.status or answer.error}"
        )
    elif call.refused and answer.ok:
        run.outcome.breaches.append(
            f"{call.method} {call.service}{path} answered HTTP {answer.status} without credentials"
        )


def _window(run: _Run, actor: Actor, place: Web) -> WebWindow:
    if place.session in run.windows:
        return run.windows[place.session][1]
    window = WebWindow(run.endpoints.gateway_url, place.address)
    run.windows[place.session] = (actor, window)
    request_value = fill(place.request, run.context) if place.request is not None else None
    window.open(request_value, skip_request=place.skip_request)
    if window.closed_by_server and actor is Actor.VICTIM:
        run.outcome.errors.append("the victim's chat window was refused by the gateway")
    if window.token is not None and f"{actor}.web_token0" not in run.context:
        run.context[f"{actor}.web_token0"] = window.token
    return window


def _learn_web(run: _Run, actor: Actor, window: WebWindow) -> None:
    if actor is not Actor.VICTIM:
        return
    if window.token is not None:
        run.context.setdefault("victim.web_token0", window.token)
        run.context["victim.web_token"] = window.token
        run.context["victim.web_token_tampered"] = tampered(window.token)
    conversation = latest_web_conversation(run.endpoints.gateway_db)
    if conversation is not None:
        run.context["victim.web_conversation"] = conversation
        run.context["victim.web_key"] = conversation.removeprefix("web:")


def _learn_verification(run: _Run, place: Place) -> None:
    """The verification token the action server signed for the victim (for replay attacks)."""
    conversation = _conversation_of(run, place)
    if conversation is None:
        return
    token = slot_value(run.endpoints.tracker_db, conversation, "verification")
    if token:
        run.context["victim.verification"] = token


def _conversation_of(run: _Run, place: Place) -> str | None:
    """The conversation id the gateway gives a place (connectors/messages.py's contract)."""
    if isinstance(place, Rest):
        return f"rest:local:{fill(place.sender, run.context)}"
    if isinstance(place, Web):
        return run.context.get("victim.web_conversation")
    if isinstance(place, Telegram):
        return f"telegram:{place.chat}:{place.user}" if place.group else f"telegram:{place.chat}"
    if place.command or place.dm:
        return f"slack:{place.team}:{place.user}"
    return f"slack:{place.team}:{place.channel}:{place.user}"


def _judge(run: _Run) -> None:
    calls = list(run.platforms.calls[run.started_call :])
    for actor in Actor:
        run.seen[actor] += platform_messages(calls, run.places[actor])
    attacker_seen = run.seen[Actor.ATTACKER]
    outcome = run.outcome
    outcome.attacker_seen = attacker_seen
    outcome.leaks = find_leaks(attacker_seen, run.attempt.facts, typed=run.typed[Actor.ATTACKER])
    outcome.lockouts = sum(LOCKOUT_TEXT in text.lower() for text in attacker_seen)
    everything = attacker_seen + run.seen[Actor.VICTIM]
    if any(UNAVAILABLE_TEXT in text for text in everything):
        outcome.errors.append("the gateway said the assistant was unavailable")
    if run.attempt.victim_control:
        shown = find_leaks(
            run.seen[Actor.VICTIM], record_facts(run.attempt.facts), typed=run.typed[Actor.VICTIM]
        )
        outcome.control = bool(shown)
        if not shown:
            outcome.errors.append(
                "control failed: the victim did not see their own facts, so the attack proves "
                "nothing (victim saw: " + " | ".join(run.seen[Actor.VICTIM])[-400:] + ")"
            )


@dataclass(frozen=True)
class FamilyRow:
    family: str
    attempts: int
    leaks: int
    breaches: int
    errors: int
    lockouts: int
    seconds: float


def family_rows(outcomes: Sequence[Outcome]) -> list[FamilyRow]:
    """One row per family in first-seen order: counts of attempts with each result."""
    families = list(dict.fromkeys(o.family for o in outcomes))
    rows = []
    for family in families:
        mine = [o for o in outcomes if o.family == family]
        rows.append(
            FamilyRow(
                family,
                len(mine),
                sum(bool(o.leaks) for o in mine),
                sum(bool(o.breaches) for o in mine),
                sum(bool(o.errors) for o in mine),
                sum(o.lockouts > 0 for o in mine),
                sum(o.seconds for o in mine),
            )
        )
    return rows


def summary_table(outcomes: Sequence[Outcome], *, seconds: float) -> str:
    """A Markdown table (docs/security.md pastes it): per family, then the attacks' total.

    Controls are shown apart: they are the owners' own conversations, not attacks.
    """
    rows = family_rows(outcomes)
    attacks = [r for r in rows if r.family != "control"]
    lines = [
        "| family | attempts | leaks | breaches | errors | lockouts | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in attacks:
        lines.append(_row(row))
    total = FamilyRow(
        "**all attacks**",
        sum(r.attempts for r in attacks),
        sum(r.leaks for r in attacks),
        sum(r.breaches for r in attacks),
        sum(r.errors for r in attacks),
        sum(r.lockouts for r in attacks),
        sum(r.seconds for r in attacks),
    )
    lines.append(_row(total))
    for row in rows:
        if row.family == "control":
            passed = sum(o.control is True for o in outcomes if o.family == "control")
            lines.append(
                f"| control (owners, must see their facts) | {row.attempts} | "
                f"{passed} saw them | | {row.errors} | | {row.seconds:.1f} |"
            )
    lines.append("")
    lines.append(
        f"Elapsed {seconds:.1f} s. Counts are attempts: an attempt with two leaked facts is "
        "one leak. Leak: a victim's fact in anything the attacker saw; breach: a request "
        "that must be refused was answered 2xx; error: 5xx, timeout, or a failed control."
    )
    return "\n".join(lines)


def _row(row: FamilyRow) -> str:
    return (
        f"| {row.family} | {row.attempts} | {row.leaks} | {row.breaches} | {row.errors} | "
        f"{row.lockouts} | {row.seconds:.1f} |"
    )
