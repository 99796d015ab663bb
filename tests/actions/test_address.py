"""Changing an order's delivery address through the actions: allowed, refused once shipped,
the postcode checked in its country's format (and the country inferred from it), corrected
mid-form, declined, confirmed once; the database checked afterwards."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actions.address import (
    ActionAskAddressConfirmed,
    ActionAskNewCountry,
    ActionChangeAddress,
    ValidateChangeAddressForm,
)
from actions.changes import KEY_SLOT, LAST_WRITE_SLOT, ActionRepeatWrite
from erp.models import AssistantWrite, SalesOrder
from tests.actions.conftest import slot_events, texts, tracker, verified
from tests.actions.test_cancel import an_order, db

__all__ = ["db"]

FORM = ValidateChangeAddressForm()


async def validated(
    slot: str, value: str, state_slots: dict, domain: dict, **kwargs: object
) -> tuple[dict, str]:
    dispatcher = CollectingDispatcher()
    method = getattr(FORM, f"validate_{slot}")
    result = await method(value, dispatcher, tracker(state_slots, text=value, **kwargs), domain)
    return result, texts(dispatcher)


def set_earlier(state: object, *names: str) -> object:
    """The tracker with ``names`` set in earlier turns, not this one."""
    state.events = [  # type: ignore[attr-defined]
        e
        for e in state.events
        if not (e.get("event") == "slot" and e.get("name") in names)  # type: ignore[attr-defined]
    ]
    return state


def delivery_of(db: Session, number: str) -> tuple[str | None, str | None, str | None]:
    db.expire_all()
    order = db.get(SalesOrder, number)
    assert order is not None
    return order.delivery_street, order.delivery_postcode, order.delivery_country


async def test_a_picking_order_gets_a_new_address_once(db: Session, domain: dict) -> None:
    order, customer = an_order(db, "picking")
    proof = verified(customer.id, "email", records=(order.order_number,))
    base = {"order_number": order.order_number, **proof}

    street, _ = await validated("new_street", "7  Canal Street, Manchester", base, domain)
    assert street["new_street"] == "7 Canal Street, Manchester"
    postcode, _ = await validated("new_postcode", "m1 3he", base, domain)
    assert (postcode["new_postcode"], postcode["new_country"]) == ("M1 3HE", "GB")  # inferred

    filled = {**base, **street, **postcode}
    asked = CollectingDispatcher()
    events = await ActionAskAddressConfirmed().run(asked, tracker(filled), domain)
    assert (
        f"deliver order {order.order_number} to 7 Canal Street, Manchester, M1 3HE, "
        "the United Kingdom?" in texts(asked)
    )
    key = slot_events(events)[KEY_SLOT]
    done = CollectingDispatcher()
    answered = await ActionChangeAddress().run(
        done, tracker({**filled, KEY_SLOT: key, "address_confirmed": "yes"}), domain
    )
    assert "will be delivered to 7 Canal Street, Manchester, M1 3HE" in texts(done)
    assert delivery_of(db, order.order_number) == ("7 Canal Street, Manchester", "M1 3HE", "GB")

    again = CollectingDispatcher()
    last = {LAST_WRITE_SLOT: slot_events(answered)[LAST_WRITE_SLOT], **proof}
    await ActionRepeatWrite().run(again, tracker(last), domain)
    assert texts(again) == texts(done)
    assert db.scalar(select(func.count()).select_from(AssistantWrite)) == 1


async def test_the_street_with_its_postcode_in_one_line(db: Session, domain: dict) -> None:
    result, _ = await validated("new_street", "9 Kerkstraat, Utrecht 3511 LX", {}, domain)
    assert (result["new_street"], result["new_postcode"], result["new_country"]) == (
        "9 Kerkstraat, Utrecht",
        "3511 LX",
        "NL",
    )


async def test_a_postcode_of_no_country_we_deliver_to_is_refused(domain: dict) -> None:
    result, said = await validated("new_postcode", "SW1A", {}, domain)
    assert result == {"new_postcode": None} and "look like" in said
    country, said = await validated("new_country", "France", {}, domain)
    assert country == {"new_country": None} and "we deliver to" in said
    asked = CollectingDispatcher()
    await ActionAskNewCountry().run(asked, tracker(), domain)
    assert "the United Kingdom, the Netherlands or Germany" in texts(asked)


async def test_a_country_that_does_not_fit_the_postcode_asks_for_it_again(domain: dict) -> None:
    result, said = await validated("new_country", "Germany", {"new_postcode": "M1 3HE"}, domain)
    assert result["new_country"] == "DE" and result["new_postcode"] is None
    assert "look like 10115" in said


async def test_corrections_while_confirming_update_the_form(db: Session, domain: dict) -> None:
    order, customer = an_order(db, "confirmed")
    proof = verified(customer.id, "email", records=(order.order_number,))
    filled = {"order_number": order.order_number, "new_street": "7 Canal Street, Manchester",
              "new_postcode": "M1 3HE", "new_country": "GB", **proof}  # fmt: skip
    # "No, the postcode is M1 4BT": the deny and the new postcode arrive together.
    state = set_earlier(
        tracker(
            {**filled, "address_confirmed": "no", "new_postcode": "M1 4BT"},
            text="no, the postcode is M1 4BT",
            requested_slot="address_confirmed",
        ),
        "new_street",
        "new_country",
    )
    corrected = await FORM.validate_address_confirmed("no", CollectingDispatcher(), state, domain)
    assert corrected == {"address_confirmed": None}  # asked again, with the new postcode
    # "No, the other address": the address is asked again.
    other = set_earlier(
        tracker({**filled, "address_confirmed": "no"}, text="no, the other address"),
        "new_street",
        "new_postcode",
        "new_country",
    )
    again = await FORM.validate_address_confirmed("no", CollectingDispatcher(), other, domain)
    assert again == {"address_confirmed": None, "new_street": None, "new_postcode": None,
                     "new_country": None}  # fmt: skip
    # A plain no ends it, changing nothing.
    plain = set_earlier(
        tracker({**filled, "address_confirmed": "no"}, text="No"),
        "new_street",
        "new_postcode",
        "new_country",
    )
    assert await FORM.validate_address_confirmed("no", CollectingDispatcher(), plain, domain) == {
        "address_confirmed": "no"
    }
    kept = CollectingDispatcher()
    before = delivery_of(db, order.order_number)
    await ActionChangeAddress().run(kept, tracker({**filled, "address_confirmed": "no"}), domain)
    assert "haven't changed anything" in texts(kept)
    assert delivery_of(db, order.order_number) == before


async def test_a_shipped_order_is_refused_before_the_address_is_asked(
    db: Session, domain: dict
) -> None:
    order, customer = an_order(db, "shipped")
    dispatcher = CollectingDispatcher()
    state = tracker({"order_number": order.order_number}, text=customer.email)
    checked = await FORM.validate_identity(customer.email, dispatcher, state, domain)
    assert checked["address_confirmed"] == "refused"
    assert "can't change any more" in texts(dispatcher)
    required = await FORM.required_slots(
        [], CollectingDispatcher(), tracker({**checked, "order_number": order.order_number}), domain
    )
    assert required == []
