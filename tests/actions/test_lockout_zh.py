"""Lockouts in a Chinese conversation: wrong guesses and the lock they cause are told in
Chinese, and count the same as in English."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions import verification
from actions.invoices import ValidateUnpaidInvoicesForm
from erp.models import Customer
from i18n.texts import speaking
from tests.actions.conftest import texts, tracker
from tests.actions.test_lockout import T


async def test_unpaid_invoice_guesses_lock_the_account_in_chinese(
    erp_db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verification, "now", lambda: T)
    customer = erp_db.scalars(select(Customer).limit(1)).one()
    replies = []
    for n in range(6):
        dispatcher = CollectingDispatcher()
        state = tracker(
            {"email": customer.email}, sender_id=f"s{n}", metadata={"client": f"ip:{n}"}
        )
        with speaking("zh"):
            await ValidateUnpaidInvoicesForm().validate_postcode(
                "邮编是 ZZ9 9ZZ" if n < 5 else customer.postcode, dispatcher, state, {}
            )
        replies.append(texts(dispatcher))

    assert replies[:4] == ["抱歉，这些信息无法通过验证。请核对邮箱地址或邮编后再试一次。"] * 4
    locked = "尝试失败次数过多（此账户）。请在 15:43 UTC 之后再试，或者让我为您转接同事。"
    assert replies[4] == replies[5] == locked
