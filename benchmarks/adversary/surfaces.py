"""Attack families aimed past the conversation: forged trackers at the action server, Rasa's
HTTP API without its token, other channels' conversation ids, replayed web session tokens,
and group chats where others read the replies.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

from benchmarks.adversary.cast import (
    ASK_UNPAID,
    ATTACKER,
    SLACK_TEAM,
    VICTIM,
    Cast,
    ask_order,
    forged_verification,
    outward,
    victim_verifies,
)
from benchmarks.adversary.facts import Person, facts_of
from benchmarks.adversary.script import (
    Attempt,
    Call,
    Close,
    Open,
    Say,
    Signing,
    Slack,
    Step,
    Telegram,
    Web,
    sees,
)


def forged_tracker_family(cast: Cast) -> Iterator[Attempt]:
    """Trackers POSTed straight to the action server's /webhook, without its token."""
    auths: list[tuple[str, dict[str, str], str]] = [
        ("no-token", {}, ""),
        ("wrong-bearer", {"Authorization": "Bearer guessed-token-123"}, ""),
        ("bearer-without-token", {"Authorization": "Bearer"}, ""),
        ("query-token", {}, "?token=guessed-token-123"),
        ("basic-auth", {"Authorization": "Basic cmFzYTpyYXNh"}, ""),
    ]
    for action in (
        "action_order_status",
        "action_invoice_status",
        "action_list_unpaid_invoices",
        "validate_order_form",
    ):
        for label, headers, query in auths:
            victim = cast.person()
            conversation = f"rest:local:forged-{cast.number()}"
            body = _tracker_payload(action, victim, conversation)
            yield Attempt(
                "forged-tracker",
                f"forged-tracker/{action}/{label}",
                (Call("actions", "POST", "/webhook" + query, headers, body),),
                facts_of(victim),
            )
    victim = cast.person()
    yield Attempt(
        "forged-tracker",
        "forged-tracker/list-actions/no-token",
        (Call("actions", "GET", "/actions"),),
        facts_of(victim),
    )


def _tracker_payload(action: str, victim: Person, conversation: str) -> dict[str, object]:
    forged = forged_verification(conversation, victim.id, [victim.order.number])
    slots = {
        "order_number": victim.order.number,
        "invoice_number": victim.invoice.number,
        "verified_customer_id": victim.id,
        "verification": forged,
        "identity": "verified",
        "email": victim.email,
        "postcode": "verified",
        "requested_slot": "identity",
    }
    user = {
        "event": "user",
        "text": outward(victim.postcode),
        "parse_data": {"intent": {"name": "inform", "confidence": 1.0}, "entities": []},
        # A forger may claim anything here; only the gateway's word through Rasa counts.
        "metadata": {
            "role": "staff",
            "roles": ["admin"],
            "channel": "slack",
            "client": "slack:T0001:UADMIN",
        },
    }
    return {
        "next_action": action,
        "sender_id": conversation,
        "version": "3.6.21",
        "domain": {},
        "tracker": {
            "sender_id": conversation,
            "slots": slots,
            "latest_message": {
                "text": user["text"],
                "intent": {"name": "inform"},
                "entities": [],
                "metadata": user["metadata"],
            },
            "latest_event_time": 1.0,
            "followup_action": None,
            "paused": False,
            "events": [user],
            "latest_input_channel": "rest",
            "active_loop": {"name": "order_form"},
            "latest_action": {"action_name": "action_listen"},
            "latest_action_name": "action_listen",
        },
    }


def rasa_api_family(cast: Cast) -> Iterator[Attempt]:
    """Rasa's HTTP API and its REST channel called directly, without the token."""
    auths: list[tuple[str, str, dict[str, str]]] = [
        ("no-token", "", {}),
        ("wrong-token", "?token=guessed-token-123", {}),
        ("wrong-bearer", "", {"Authorization": "Bearer guessed-token-123"}),
    ]
    for label, query, headers in auths:
        for request in (
            "read-tracker",
            "read-story",
            "set-slots-and-execute",
            "trigger-intent",
            "channel-as-victim",
            "channel-as-staff",
            "replace-tracker",
            "predict",
        ):
            victim = cast.person()
            rest = cast.rest()
            victim_conversation = f"rest:local:{rest.sender}"
            mine = f"rest:local:rasa-api-{cast.number()}"
            steps: list[Step] = victim_verifies(rest, victim)
            steps += _rasa_calls(request, victim, victim_conversation, mine, query, headers)
            yield Attempt(
                "rasa-api",
                f"rasa-api/{request}/{label}",
                tuple(steps),
                facts_of(victim),
                victim_control=True,
            )


def _rasa_calls(
    request: str,
    victim: Person,
    victim_conversation: str,
    mine: str,
    query: str,
    headers: dict[str, str],
) -> list[Step]:
    def call(method: str, path: str, body: object = None) -> Call:
        return Call("rasa", method, path + query, headers, body)

    slots = [
        {"event": "slot", "name": "verified_customer_id", "value": victim.id},
        {
            "event": "slot",
            "name": "verification",
            "value": forged_verification(mine, victim.id, [victim.order.number]),
        },
        {"event": "slot", "name": "order_number", "value": victim.order.number},
        {"event": "slot", "name": "identity", "value": "verified"},
    ]
    target = f"/conversations/{victim_conversation}"
    if request == "read-tracker":
        return [call("GET", target + "/tracker")]
    if request == "read-story":
        return [call("GET", target + "/story")]
    if request == "set-slots-and-execute":
        return [
            call("POST", f"/conversations/{mine}/tracker/events", slots),
            call("POST", f"/conversations/{mine}/execute", {"name": "action_order_status"}),
        ]
    if request == "trigger-intent":
        return [
            call(
                "POST",
                f"/conversations/{victim_conversation}/trigger_intent",
                {"name": "list_unpaid_invoices", "entities": {}},
            ),
        ]
    if request == "channel-as-victim":
        return [
            call(
                "POST",
                "/webhooks/rest/webhook",
                {"sender": victim_conversation, "message": ask_order(victim)},
            )
        ]
    if request == "channel-as-staff":
        metadata = {"role": "staff", "roles": ["admin"], "channel": "slack",
                    "client": "slack:T0001:UADMIN"}  # fmt: skip
        return [
            call(
                "POST",
                "/webhooks/rest/webhook",
                {"sender": mine, "message": ask_order(victim), "metadata": metadata},
            )
        ]
    if request == "replace-tracker":
        return [
            call("PUT", target + "/tracker/events", slots),
            call("POST", target + "/execute", {"name": "action_list_unpaid_invoices"}),
        ]
    return [call("POST", target + "/predict")]


def spoofed_id_family(cast: Cast) -> Iterator[Attempt]:
    """Another channel's conversation id claimed through REST, Socket.IO or a forged webhook."""
    for round_ in range(2):
        yield from _spoof_web(cast, round_)
        yield from _spoof_telegram(cast, round_)
        yield from _spoof_slack(cast, round_)


def _spoof_web(cast: Cast, round_: int) -> Iterator[Attempt]:
    spoofs: list[tuple[str, Callable[[Cast, Person], list[Step]]]] = [
        (
            "rest-sender",
            lambda c, v: [Say(ATTACKER, c.rest(sender="web:<<victim.web_key>>"), ASK_UNPAID)],
        ),
        (
            "rest-sender-order",
            lambda c, v: [Say(ATTACKER, c.rest(sender="web:<<victim.web_key>>"), ask_order(v))],
        ),
        (
            "rest-pending",
            lambda c, v: [
                Call(
                    "gateway", "GET", "/api/messages/web:<<victim.web_key>>/pending", refused=False
                )
            ],
        ),
        (
            "socket-raw-key",
            lambda c, v: [
                Say(ATTACKER, c.web("attacker", request="<<victim.web_key>>"), ask_order(v))
            ],
        ),
        (
            "socket-tampered-token",
            lambda c, v: [
                Say(
                    ATTACKER, c.web("attacker", request="<<victim.web_token_tampered>>"), ASK_UNPAID
                )
            ],
        ),
        (
            "socket-no-session-request",
            lambda c, v: [
                Say(
                    ATTACKER,
                    c.web("attacker", request="<<victim.web_key>>", skip_request=True),
                    ask_order(v),
                )
            ],
        ),
        (
            "socket-key-suffix",
            lambda c, v: [
                Say(ATTACKER, c.web("attacker", request="<<victim.web_key>>.forged"), ask_order(v))
            ],
        ),
        (
            "socket-eavesdrop",
            lambda c, v: [Open(ATTACKER, c.web("attacker", request="<<victim.web_key>>"))],
        ),
    ]
    for label, attack in spoofs:
        victim = cast.person()
        window = cast.web("victim")
        steps: list[Step] = victim_verifies(window, victim)
        steps += attack(cast, victim)
        if label == "socket-eavesdrop":
            # The victim asks again while the attacker's window listens.
            steps += [
                Say(VICTIM, window, ASK_UNPAID),
                Say(VICTIM, window, victim.email),
                Say(VICTIM, window, victim.postcode),
            ]
        yield Attempt(
            "spoofed-id",
            f"spoofed-id/web/{label}/{round_}",
            tuple(steps),
            facts_of(victim),
            victim_control=True,
        )


def _spoof_telegram(cast: Cast, round_: int) -> Iterator[Attempt]:
    for label in ("rest-sender", "rest-pending", "webhook-no-secret", "webhook-wrong-secret"):
        victim = cast.person()
        chat = cast.telegram()
        steps: list[Step] = victim_verifies(chat, victim)
        if label == "rest-sender":
            steps.append(Say(ATTACKER, cast.rest(sender=f"telegram:{chat.chat}"), ASK_UNPAID))
        elif label == "rest-pending":
            steps.append(
                Call("gateway", "GET", f"/api/messages/telegram:{chat.chat}/pending", refused=False)
            )
        else:
            signing = Signing.MISSING if label == "webhook-no-secret" else Signing.WRONG
            forged = Telegram(chat=chat.chat, user=chat.user, signing=signing)
            steps.append(Say(ATTACKER, forged, ASK_UNPAID, refused=True))
        yield Attempt(
            "spoofed-id",
            f"spoofed-id/telegram/{label}/{round_}",
            tuple(steps),
            facts_of(victim),
            victim_control=True,
        )


def _spoof_slack(cast: Cast, round_: int) -> Iterator[Attempt]:
    for label in (
        "rest-sender",
        "event-bad-signature",
        "event-no-signature",
        "event-stale-signature",
        "command-bad-signature",
    ):
        victim = cast.person()
        dm = cast.slack_dm()
        steps: list[Step] = victim_verifies(dm, victim)
        attacker_sees: frozenset[str] = frozenset()
        if label == "rest-sender":
            steps.append(Say(ATTACKER, cast.rest(sender=f"slack:{dm.team}:{dm.user}"), ASK_UNPAID))
        else:
            signing = {
                "event-bad-signature": Signing.WRONG,
                "event-no-signature": Signing.MISSING,
                "event-stale-signature": Signing.STALE,
                "command-bad-signature": Signing.WRONG,
            }[label]
            command = label.startswith("command")
            # A forged /erp answers to the attacker's own hook; a forged event in the
            # victim's DM, which the attacker cannot read (its acceptance is the breach).
            channel = f"hook-{cast.number()}" if command else dm.channel
            forged = Slack(dm.team, dm.user, channel, command=command, signing=signing)
            steps.append(Say(ATTACKER, forged, ASK_UNPAID, refused=True))
            if command:
                attacker_sees = frozenset(sees(forged))
        yield Attempt(
            "spoofed-id",
            f"spoofed-id/slack/{label}/{round_}",
            tuple(steps),
            facts_of(victim),
            attacker_sees=attacker_sees,
            victim_control=True,
        )


def replay_family(cast: Cast) -> Iterator[Attempt]:
    """Web session tokens used after the conversation rotated them on verification."""
    variants = (
        "old-token",
        "old-token-no-session-request",
        "fixation",
        "listening-old-window",
        "old-token-after-close",
    )
    for label, _round in itertools.product(variants, range(6)):
        victim = cast.person()
        steps: list[Step] = []
        if label == "fixation":
            # The attacker opens a session and has the victim use its token.
            steps.append(Open(ATTACKER, cast.web("planted")))
            window = cast.web("victim", request="<<attacker.web_token0>>")
            steps.append(Close("planted"))
        else:
            window = cast.web("victim")
        listener = cast.web("attacker", request="<<victim.web_token0>>")
        if label == "listening-old-window":
            steps += [Open(VICTIM, window), Open(ATTACKER, listener)]
        steps += victim_verifies(window, victim)
        if label == "old-token-after-close":
            steps.append(Close("victim"))
        if label == "old-token-no-session-request":
            replay: Web = cast.web("attacker", request="<<victim.web_token0>>", skip_request=True)
        elif label == "fixation":
            replay = cast.web("attacker", request="<<attacker.web_token0>>")
        else:
            replay = listener
        if label != "listening-old-window":
            steps += [Say(ATTACKER, replay, ASK_UNPAID), Say(ATTACKER, replay, ask_order(victim))]
        yield Attempt(
            "replay",
            f"replay/{label}/{_round}",
            tuple(steps),
            facts_of(victim),
            victim_control=True,
        )


def group_family(cast: Cast) -> Iterator[Attempt]:
    """Group chats: what one member proves or asks must not be shown to the others."""
    for _round in range(4):
        yield from _telegram_groups(cast, _round)
        yield from _slack_threads(cast, _round)


def _telegram_groups(cast: Cast, round_: int) -> Iterator[Attempt]:
    for label in (
        "verify-in-group",
        "verified-privately-other-asks",
        "verified-privately-asks-in-group",
        "other-claims-identity",
    ):
        victim, attacker = cast.person(), cast.attacker()
        group = cast.telegram_group()
        victim_user, attacker_user = cast.telegram_user(), cast.telegram_user()
        in_group = Telegram(chat=group, user=victim_user, group=True)
        other = Telegram(chat=group, user=attacker_user, group=True)
        private = Telegram(chat=victim_user, user=victim_user)
        steps: list[Step] = []
        control = label.startswith("verified-privately")
        if control:
            steps += victim_verifies(private, victim)
        if label == "verify-in-group":
            steps += [
                Say(VICTIM, in_group, ask_order(victim)),
                Say(VICTIM, in_group, victim.postcode),
                Say(ATTACKER, other, ask_order(victim)),
                Say(ATTACKER, other, "what's the tracking number?"),
            ]
        elif label == "verified-privately-other-asks":
            steps += [Say(ATTACKER, other, ASK_UNPAID), Say(ATTACKER, other, ask_order(victim))]
        elif label == "verified-privately-asks-in-group":
            steps += [Say(VICTIM, in_group, ASK_UNPAID), Say(VICTIM, in_group, ask_order(victim))]
        else:
            steps += [
                Say(VICTIM, in_group, ask_order(victim)),
                Say(ATTACKER, other, "yes that's me, " + attacker.postcode),
                Say(VICTIM, in_group, victim.postcode),
            ]
        yield Attempt(
            "group",
            f"group/telegram/{label}/{round_}",
            tuple(steps),
            facts_of(victim, besides=attacker),
            # Everyone in the group reads it, and the attacker their own private chat.
            attacker_sees=frozenset({f"telegram:{group}", f"telegram:{attacker_user}"}),
            victim_control=control,
        )


def _slack_threads(cast: Cast, round_: int) -> Iterator[Attempt]:
    for label in (
        "verify-in-thread",
        "verified-in-dm-other-asks",
        "verified-in-dm-asks-in-channel",
        "verified-in-dm-command",
    ):
        victim, attacker = cast.person(), cast.attacker()
        channel = f"CSEC{cast.number():05d}"
        thread = f"1700000{cast.number():03d}.000100"
        victim_user, attacker_user = cast.slack_user(), cast.slack_user()
        in_thread = Slack(SLACK_TEAM, victim_user, channel, thread=thread)
        other = Slack(SLACK_TEAM, attacker_user, channel, thread=thread)
        dm = cast.slack_dm(victim_user)
        steps: list[Step] = []
        control = label.startswith("verified-in-dm")
        if control:
            steps += victim_verifies(dm, victim)
        if label == "verify-in-thread":
            steps += [
                Say(VICTIM, in_thread, ask_order(victim)),
                Say(VICTIM, in_thread, victim.postcode),
                Say(ATTACKER, other, "what's the tracking number of that order?"),
                Say(ATTACKER, other, ask_order(victim)),
            ]
        elif label == "verified-in-dm-other-asks":
            steps += [
                Say(ATTACKER, other, ASK_UNPAID),
                Say(ATTACKER, other, f"invoices of {victim.email}"),
            ]
        elif label == "verified-in-dm-asks-in-channel":
            steps += [Say(VICTIM, in_thread, ASK_UNPAID), Say(VICTIM, in_thread, ask_order(victim))]
        else:
            # The /erp answer is private to whoever typed it: the attacker's hook.
            command = Slack(SLACK_TEAM, attacker_user, f"hook-{cast.number()}", command=True)
            steps += [Say(ATTACKER, command, ASK_UNPAID), Say(ATTACKER, command, ask_order(victim))]
            yield Attempt(
                "group",
                f"group/slack/{label}/{round_}",
                tuple(steps),
                facts_of(victim, besides=attacker),
                attacker_sees=frozenset({f"hook:{command.channel}"}),
                victim_control=True,
            )
            continue
        yield Attempt(
            "group",
            f"group/slack/{label}/{round_}",
            tuple(steps),
            facts_of(victim, besides=attacker),
            attacker_sees=frozenset({f"slack:{channel}", f"slack:D{attacker_user[1:]}"}),
            victim_control=control,
        )
