"""Customer verification shared by the order, invoice and unpaid-invoice forms.

Who a conversation proved to be lives in the slot ``verification`` as a token this server
signed (erp/access.py), bound to the conversation's sender id: a slot written by anyone
else (a forged tracker, an injected slot, another conversation's token) reads as "not
verified". Failed guesses are counted per question here and across conversations in
actions/lockout.py. In group chats nothing is verified and no record is discussed.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.lockout import RECORD, Lock, lockout_store
from contracts import metadata as turn_metadata
from erp.access import (
    DEFAULT_TTL_S,
    STAFF,
    CustomerKey,
    Verification,
    read_verification,
    sign_verification,
    verification_secret,
)
from erp.ids import MAX_INPUT_CHARS
from erp.mapping.spec import IDENTITY_FACTORS
from erp.schema import current_spec
from i18n.texts import current_language, messages, say
from models.erp_facts import day

MAX_ATTEMPTS = 3
VERIFIED = "verified"
VERIFICATION_SLOT = "verification"
# The slot each identity factor is asked in (the unpaid-invoices form asks for all of them).
FACTOR_SLOTS = {
    "email": "email",
    "postcode": "postcode",
    "phone": "phone",
    "number": "customer_number",
}
IDENTITY_FACTOR_SLOTS = tuple(FACTOR_SLOTS[f] for f in IDENTITY_FACTORS)
# How a factor is named to the customer.
FACTOR_WORDS = {
    "email": "email address",
    "postcode": "postcode",
    "phone": "phone number",
    "number": "customer number",
}
QUESTION_SLOTS = (
    "order_number",
    "invoice_number",
    "sku",
    "quantity",
    "identity",
    *IDENTITY_FACTOR_SLOTS,
    # A change being confirmed (actions/cancel.py): the answer and the confirmation's key.
    "cancel_confirmed",
    "write_key",
    "new_street",
    "new_postcode",
    "new_country",
    "address_confirmed",
    "return_items",
    "return_reason",
    "return_confirmed",
)


def now() -> float:
    """The time verification and lockouts are judged at (a seam for tests)."""
    return time.time()


def warm_up() -> None:
    """Read the signing secret and open the lockout store before the first request.

    A bad ``VERIFICATION_SECRET``, ``ACTIONS_STATE_DB`` or ``ACTIONS_STATE_DATABASE_URL``, or
    a state database out of reach, then stops the server at start instead of failing a
    customer's turn.
    """
    verification_secret()
    lockout_store()


def question_reset_events() -> list[dict[str, Any]]:
    """Forget the current question and its verification tries, keep who is verified."""
    return [SlotSet(slot, None) for slot in QUESTION_SLOTS] + [SlotSet("verification_attempts", 0)]


def form_ended_events() -> list[dict[str, Any]]:
    """End the active form and forget its question (a refusal, an error, a colleague takes it)."""
    return [ActiveLoop(None), SlotSet("requested_slot", None), *question_reset_events()]


def attempts(tracker: Tracker) -> int:
    """How many verification tries failed for the current question."""
    value = tracker.get_slot("verification_attempts")
    return int(value) if isinstance(value, int | float) else 0


def attempts_exhausted(tracker: Tracker) -> bool:
    return attempts(tracker) >= MAX_ATTEMPTS


def latest_metadata(tracker: Tracker) -> dict[str, Any]:
    """The gateway's metadata on the latest user message (set last, so clients can't)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            metadata = event.get("metadata")
            return metadata if isinstance(metadata, dict) else {}
    return {}


def is_staff(tracker: Tracker) -> bool:
    """True when the gateway marked the latest message as sent by a known staff member.

    Only the gateway sets this (from the Slack user id); clients cannot claim it.
    """
    return turn_metadata.is_staff(latest_metadata(tracker))


def is_group(tracker: Tracker) -> bool:
    """True when the latest message came from a chat where several people read the replies.

    Any true-ish value counts: when in doubt, no record is discussed.
    """
    return turn_metadata.in_group(latest_metadata(tracker))


def client_key(tracker: Tracker) -> str:
    """Who is guessing: the gateway's ``client`` key, else (no gateway) the sender id."""
    return turn_metadata.client_of(latest_metadata(tracker)) or f"sender:{tracker.sender_id}"


def group_refusal(tracker: Tracker) -> str:
    """Why records are not discussed here, and where to ask instead."""
    channel = latest_metadata(tracker).get(turn_metadata.CHANNEL)
    place = f"place.{channel}"
    where = say(place) if place in messages() else say("place.private")
    return say("verify.group_refusal", where=where)


def verification(tracker: Tracker) -> Verification | None:
    """What this conversation proved, read from the signed slot; None when unproven.

    None also in a group chat (nothing is shared there) and for a staff lookup when the
    latest message is not from staff.
    """
    if is_group(tracker):
        return None
    proof = read_verification(
        tracker.get_slot(VERIFICATION_SLOT),
        secret=verification_secret(),
        conversation_id=tracker.sender_id,
        now=now(),
    )
    if proof is not None and STAFF in proof.factors and not is_staff(tracker):
        return None
    return proof


def proof_after(tracker: Tracker, slots: dict[str, Any]) -> Verification | None:
    """What the conversation has proved once ``slots`` (a validation's result) are set: the
    verification they carry, else the tracker's."""
    token = slots.get(VERIFICATION_SLOT)
    if token is None:
        return verification(tracker)
    if is_group(tracker):
        return None
    return read_verification(
        token, secret=verification_secret(), conversation_id=tracker.sender_id, now=now()
    )


def verified_customer(tracker: Tracker) -> CustomerKey | None:
    """The customer this conversation is verified for, if any."""
    proof = verification(tracker)
    return proof.customer_id if proof is not None else None


def verified_slot(
    tracker: Tracker,
    customer_id: CustomerKey,
    *,
    factors: Iterable[str] = (),
    records: Iterable[str] = (),
) -> dict[str, str]:
    """The ``verification`` slot after proving ``factors`` of ``customer_id`` for ``records``.

    Adds to what the conversation proved for the same customer; a different customer
    replaces it (verification is for one customer at a time). Expires an hour from now.
    """
    expires_at = now() + DEFAULT_TTL_S
    current = verification(tracker)
    if current is not None and current.customer_id == customer_id:
        proof = current.adding(factors=factors, records=records, expires_at=expires_at)
    else:
        proof = Verification(
            tracker.sender_id, customer_id, frozenset(factors), frozenset(records), expires_at
        )
    return {VERIFICATION_SLOT: sign_verification(proof, secret=verification_secret())}


def renewal_events(tracker: Tracker, proof: Verification, *records: str) -> list[dict[str, Any]]:
    """The verification re-signed after an answer: ``records`` (the verified customer's, just
    answered about) added, and an hour from now, so it lasts while the conversation does."""
    slot = verified_slot(tracker, proof.customer_id, records=records)
    return [SlotSet(name, value) for name, value in slot.items()]


def not_verified() -> str:
    """The neutral reply to a wrong identity: never says which part was wrong."""
    return say("verify.failed", factors=factor_words(current_spec().identity))


def factor_words(factors: Iterable[str], joiner: str = "word.or") -> str:
    """The factors as a customer reads them: ``email address or postcode`` (``joiner``: the
    message key of the word between them)."""
    words = [say(f"factor.{f}") if f in FACTOR_WORDS else f for f in factors]
    return say(joiner).join(words)


async def refused_while_locked(
    dispatcher: CollectingDispatcher, tracker: Tracker, *, record: str | None, subject: str
) -> dict[str, Any] | None:
    """When ``record`` or this client is locked out, say until when and end the question.

    Nothing is checked while locked, so a right guess then tells an attacker nothing.
    Returns the slots that end the question, or None when not locked.
    """
    lock = await asyncio.to_thread(
        lockout_store().lock_on, record=record, client=client_key(tracker), now=now()
    )
    if lock is None:
        return None
    dispatcher.utter_message(text=locked_text(lock, subject))
    return {"verification_attempts": MAX_ATTEMPTS}


async def checked_guess(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    *,
    record: str,
    subject: str,
    check: Callable[[], Awaitable[CustomerKey | None]],
) -> tuple[CustomerKey | None, dict[str, Any]]:
    """Check a guessed identity (``check``: the customer it proves, or None) under the limits.

    While ``record`` or this client is locked, ``check`` is not even run and the reply says
    until when. A wrong guess counts for this question, for the record and for the client,
    and gets a neutral reply that never tells why it failed (or, when it caused a lock,
    until when). Returns the customer proven, if any, and the slots to set.
    """
    store = lockout_store()
    attempt = await asyncio.to_thread(
        store.begin, record=record, client=client_key(tracker), now=now()
    )
    if isinstance(attempt, Lock):
        dispatcher.utter_message(text=locked_text(attempt, subject))
        return None, {"verification_attempts": MAX_ATTEMPTS}
    try:
        customer_id = await check()
    except Exception:
        await asyncio.to_thread(store.withdraw, attempt)  # the ERP failed: no guess was judged
        raise
    if customer_id is not None:
        await asyncio.to_thread(store.withdraw, attempt)
        return customer_id, {}
    lock = await asyncio.to_thread(store.fail, attempt, now=now())
    if lock is not None:
        dispatcher.utter_message(text=locked_text(lock, subject))
        return None, {"verification_attempts": MAX_ATTEMPTS}
    count = attempts(tracker) + 1
    if count >= MAX_ATTEMPTS:
        dispatcher.utter_message(text=say("verify.give_up"))
    else:
        dispatcher.utter_message(text=not_verified())
    return None, {"verification_attempts": count}


def locked_text(lock: Lock, subject: str) -> str:
    """`Too many unsuccessful attempts for this order. Please try again after 15:42 UTC, ...`"""
    what = (
        say("verify.locked_record", subject=say(f"label.{subject}")) if lock.kind == RECORD else ""
    )
    return say("verify.locked", what=what, until=until(lock.until))


def until(moment: float) -> str:
    """A lock's end as "15:42 UTC" (rounded up to the minute), with the day if not today."""
    end = datetime.fromtimestamp(math.ceil(moment / 60) * 60, UTC)
    text = f"{end:%H:%M} UTC"
    if end.date() != datetime.fromtimestamp(now(), UTC).date():
        language = current_language()
        text = f"{day(end, language)} {text}" if language == "zh" else f"{text} on {day(end)}"
    return text


def typed_identity(value: Any, tracker: Tracker, *, without: str = "") -> str:
    """What the user typed this turn as their identity (erp.customers.typed_factors reads
    the factor out of it).

    The message itself first: an entity extractor may have cut an address short. The record
    number (``without``), typed in the same message, is taken out so it is not read as a
    postcode or phone number.
    """
    latest = str(tracker.latest_message.get("text") or "")[:MAX_INPUT_CHARS]
    text = latest if latest.strip() else first_text(value)
    return text.replace(without, " ") if without else text


def first_text(value: Any) -> str:
    """A slot value as text: entity slots may hold a list when several were found."""
    if isinstance(value, list):
        value = value[0] if value else ""
    return "" if value is None else str(value)
