"""Cancelling an order: only while nothing is picked, only the customer's own, once per
confirmation key, all or nothing; on SQLite, PostgreSQL and MariaDB (a database of its own,
so the shared seeded one stays unchanged)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, func, make_url, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from demo.seed import seed
from erp import writes
from erp.db import ping
from erp.errors import AccessDenied, ErpUnavailable, RecordNotFound, WritesNotSupported
from erp.models import AssistantWrite, SalesOrder
from erp.samples import create_database
from erp.schema import forget_schemas
from tests.actions_state import StateBackend, close_process_stores
from tests.erp.conftest import SEED_TODAY, SERVER_URLS
from tests.erp.test_mapping_check import MAPPINGS

WRITE_DATABASE = "erp_write_test"


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.integration),
        pytest.param("mariadb", id="mariadb", marks=pytest.mark.integration),
    ],
)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('writes') / 'erp.db'}"
    else:
        variable, default = SERVER_URLS[request.param]
        url = make_url(os.environ.get(variable) or default).set(database=WRITE_DATABASE)
        url = url.render_as_string(hide_password=False)
        try:
            create_database(url)
        except OperationalError:
            if os.environ.get("CI") == "true":
                pytest.fail(f"{request.param} is not reachable")
            pytest.skip(f"{request.param} is not reachable")
    built = writes.make_write_engine(url)
    assert ping(built)
    seed(built, scale=0.1, today=SEED_TODAY, progress=False)
    forget_schemas()
    yield built
    built.dispose()
    forget_schemas()


def an_order(engine: Engine, status: str, offset: int = 0) -> SalesOrder:
    with Session(engine) as session:
        return session.scalars(
            select(SalesOrder).where(SalesOrder.status == status)
            .order_by(SalesOrder.order_number).offset(offset).limit(1)
        ).one()  # fmt: skip


def status_of(engine: Engine, number: str) -> str:
    with Session(engine) as session:
        return session.scalars(
            select(SalesOrder.status).where(SalesOrder.order_number == number)
        ).one()


def writes_under(engine: Engine, key: str) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).where(AssistantWrite.key == key)) or 0


def test_a_pending_order_is_cancelled_once_per_confirmation(engine: Engine) -> None:
    order = an_order(engine, "pending")
    first = writes.cancel_order(
        order.order_number,
        customer_id=order.customer_id,
        key="k-pending",
        actor="customer",
        engine=engine,
    )
    again = writes.cancel_order(
        order.order_number,
        customer_id=order.customer_id,
        key="k-pending",
        actor="customer",
        engine=engine,
    )
    assert (first.done, first.repeated, first.status) == (True, False, "cancelled")
    assert (again.done, again.repeated, again.status) == (True, True, "cancelled")
    assert status_of(engine, order.order_number) == "cancelled"
    assert writes_under(engine, "k-pending") == 1
    # A new confirmation for an order cancelled already changes nothing and says so.
    later = writes.cancel_order(
        order.order_number,
        customer_id=order.customer_id,
        key="k-later",
        actor="customer",
        engine=engine,
    )
    assert (later.done, later.status) == (False, "cancelled")


@pytest.mark.parametrize("status", ["picking", "shipped", "delivered"])
def test_an_order_being_picked_or_sent_is_not_cancelled(engine: Engine, status: str) -> None:
    order = an_order(engine, status)
    outcome = writes.cancel_order(
        order.order_number,
        customer_id=order.customer_id,
        key=f"k-{status}",
        actor="customer",
        engine=engine,
    )
    assert (outcome.done, outcome.status) == (False, status)
    assert status_of(engine, order.order_number) == status


def test_another_customers_order_or_no_order_changes_nothing(engine: Engine) -> None:
    order = an_order(engine, "confirmed")
    with pytest.raises(AccessDenied):
        writes.cancel_order(
            order.order_number,
            customer_id=order.customer_id + 1,
            key="k-other",
            actor="customer",
            engine=engine,
        )
    with pytest.raises(RecordNotFound):
        writes.cancel_order(
            "SO-199999", customer_id=1, key="k-none", actor="customer", engine=engine
        )
    assert status_of(engine, order.order_number) == "confirmed"
    assert writes_under(engine, "k-other") == writes_under(engine, "k-none") == 0


def test_the_same_confirmation_twenty_times_at_once_changes_the_order_once(engine: Engine) -> None:
    order = an_order(engine, "confirmed", offset=1)

    def deliver(_: int) -> writes.WriteOutcome:
        return writes.cancel_order(
            order.order_number,
            customer_id=order.customer_id,
            key="k-burst",
            actor="customer",
            engine=engine,
        )

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(deliver, range(20)))
    assert all(o.done and o.status == "cancelled" for o in outcomes), outcomes
    assert sum(not o.repeated for o in outcomes) == 1  # one made the change, 19 read it
    assert writes_under(engine, "k-burst") == 1
    assert status_of(engine, order.order_number) == "cancelled"


def test_a_failure_at_commit_changes_nothing(engine: Engine) -> None:
    order = an_order(engine, "confirmed", offset=2)

    def down(_connection: object) -> None:
        raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    event.listen(engine, "commit", down)
    try:
        with pytest.raises(ErpUnavailable):
            writes.cancel_order(
                order.order_number,
                customer_id=order.customer_id,
                key="k-down",
                actor="customer",
                engine=engine,
            )
    finally:
        event.remove(engine, "commit", down)
    assert status_of(engine, order.order_number) == "confirmed"
    assert writes_under(engine, "k-down") == 0


def test_a_key_is_bound_to_its_customer(engine: Engine) -> None:
    order = an_order(engine, "confirmed", offset=3)
    writes.cancel_order(
        order.order_number,
        customer_id=order.customer_id,
        key="k-bound",
        actor="customer",
        engine=engine,
    )
    with pytest.raises(AccessDenied):
        writes.recorded_outcome("k-bound", customer_id=order.customer_id + 1, engine=engine)
    recorded = writes.recorded_outcome("k-bound", customer_id=order.customer_id, engine=engine)
    assert recorded is not None and recorded.done and recorded.repeated


def test_a_mapping_without_the_write_sends_it_to_a_colleague(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ERP_MAPPING", str(MAPPINGS / "northwind.yml"))
    with pytest.raises(WritesNotSupported, match="Northwind"):
        writes.require_write("cancel_order")
    monkeypatch.delenv("ERP_WRITE_DATABASE_URL", raising=False)
    with pytest.raises(WritesNotSupported, match="ERP_WRITE_DATABASE_URL"):
        writes.write_url()


def test_the_audit_command_lists_a_conversations_events(
    state_backend: StateBackend,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from erp.__main__ import main
    from erp.audit import AuditEvent, audit_trail

    state_backend.use(monkeypatch)  # AUDIT_DB, or the shared PostgreSQL database
    try:
        for conversation, outcome in (("web:a", "done"), ("web:b", "ok"), ("web:a", "repeated")):
            audit_trail().record(
                AuditEvent(
                    conversation,
                    "web",
                    "customer",
                    "7",
                    "writes.cancel_order",
                    "SO-100123",
                    outcome,
                    4.2,
                )  # fmt: skip
            )
        assert main(["audit", "--conversation", "web:a"]) == 0
    finally:
        close_process_stores()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and "done" in lines[0] and "repeated" in lines[1]
    assert all("web:a" in line and "writes.cancel_order" in line for line in lines)


def test_the_writer_login_changes_only_what_a_cancellation_changes(engine: Engine) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from erp.roles import grant_writer

    if engine.dialect.name == "sqlite":
        with pytest.raises(ValueError, match="sqlite"):
            grant_writer(engine, "erp_writer")
        return
    url = grant_writer(engine, "erp_writer")
    writer = writes.make_write_engine(url.render_as_string(hide_password=False))
    try:
        order = an_order(engine, "confirmed", offset=4)
        done = writes.cancel_order(
            order.order_number,
            customer_id=order.customer_id,
            key="k-writer",
            actor="customer",
            engine=writer,
        )
        assert done.done and status_of(engine, order.order_number) == "cancelled"
        from erp.addresses import Address

        moved = an_order(engine, "picking", offset=2)
        readdressed = writes.change_address(
            moved.order_number, Address("1 Am Hafen, Leipzig", "04109", "DE"),
            customer_id=moved.customer_id, key="k-writer-address", actor="customer", engine=writer,
        )  # fmt: skip
        assert readdressed.done
        returned, delivered, lines = delivered_order(engine, 2)
        rma = writes.request_return(
            returned.order_number, {next(iter(lines)): 1}, "unwanted",
            customer_id=returned.customer_id, key="k-writer-return", actor="customer",
            today=delivered, engine=writer,
        )  # fmt: skip
        assert rma.done
        for statement in (
            "UPDATE customers SET email = 'x@example.com'",
            "UPDATE sales_orders SET total = 0",
            "DELETE FROM order_lines",
            "DELETE FROM assistant_writes",
        ):
            with pytest.raises(DBAPIError), writer.begin() as connection:
                connection.execute(text(statement))
    finally:
        writer.dispose()


# --- changing the delivery address ------------------------------------------------------------


def delivery_of(engine: Engine, number: str) -> tuple[str | None, str | None, str | None]:
    with Session(engine) as session:
        order = session.get(SalesOrder, number)
        assert order is not None
        return order.delivery_street, order.delivery_postcode, order.delivery_country


def test_an_unshipped_order_is_readdressed_once(engine: Engine) -> None:
    from erp.addresses import Address

    order = an_order(engine, "picking")
    new = Address("7 Canal Street, Manchester", "M1 3HE", "GB")
    first = writes.change_address(
        order.order_number, new, customer_id=order.customer_id, key="a-1", actor="customer",
        engine=engine,
    )  # fmt: skip
    again = writes.change_address(
        order.order_number, new, customer_id=order.customer_id, key="a-1", actor="customer",
        engine=engine,
    )  # fmt: skip
    assert first.done and not first.repeated and again.repeated and again.detail == first.detail
    assert "7 Canal Street, Manchester, M1 3HE" in first.detail
    assert delivery_of(engine, order.order_number) == ("7 Canal Street, Manchester", "M1 3HE", "GB")
    assert status_of(engine, order.order_number) == "picking"


def test_a_shipped_order_keeps_its_address(engine: Engine) -> None:
    from erp.addresses import Address

    order = an_order(engine, "shipped", offset=1)
    before = delivery_of(engine, order.order_number)
    outcome = writes.change_address(
        order.order_number, Address("1 Am Hafen, Leipzig", "04109", "DE"),
        customer_id=order.customer_id, key="a-shipped", actor="customer", engine=engine,
    )  # fmt: skip
    assert (outcome.done, outcome.status) == (False, "shipped")
    assert delivery_of(engine, order.order_number) == before


# --- returns (RMA) ------------------------------------------------------------------------------


def delivered_order(engine: Engine, offset: int) -> tuple[SalesOrder, date, dict[str, int]]:
    from erp.models import OrderLine, Shipment

    with Session(engine) as session:
        order = session.scalars(
            select(SalesOrder).where(SalesOrder.status == "delivered")
            .order_by(SalesOrder.order_number).offset(offset).limit(1)
        ).one()  # fmt: skip
        shipment = session.scalars(
            select(Shipment).where(Shipment.order_number == order.order_number)
        ).one()
        lines: dict[str, int] = {}
        for line in session.scalars(
            select(OrderLine).where(OrderLine.order_number == order.order_number)
        ):
            lines[line.sku] = lines.get(line.sku, 0) + line.quantity
        assert shipment.delivered_at is not None
        return order, shipment.delivered_at.date(), lines


def test_a_delivered_order_is_returned_within_the_window_once(engine: Engine) -> None:
    from datetime import timedelta

    from erp.models import AssistantReturn, AssistantReturnLine

    order, delivered, lines = delivered_order(engine, 0)
    sku, ordered = next(iter(lines.items()))
    today = delivered + timedelta(days=3)
    asked = {
        "customer_id": order.customer_id,
        "actor": "customer",
        "today": today,
        "engine": engine,
    }
    first = writes.request_return(order.order_number, {sku: 1}, "unwanted", key="r-1", **asked)
    again = writes.request_return(order.order_number, {sku: 1}, "unwanted", key="r-1", **asked)
    assert first.done and again.repeated and again.detail == first.detail
    rma, until = first.detail.split("|")
    assert rma.startswith("RMA-") and until == (today + timedelta(days=14)).isoformat()
    with Session(engine) as session:
        assert session.get(AssistantReturn, rma).order_number == order.order_number
        assert [(r.sku, r.quantity) for r in session.scalars(
            select(AssistantReturnLine).where(AssistantReturnLine.rma == rma)
        )] == [(sku, 1)]  # fmt: skip
    # More than is left of the line is refused; what is left is still returnable.
    too_many = writes.request_return(
        order.order_number, {sku: ordered}, "unwanted", key="r-2", **asked
    )
    assert (too_many.done, too_many.status) == (False, "too_many")
    if ordered > 1:
        rest = writes.request_return(
            order.order_number, {sku: ordered - 1}, "wrong_size", key="r-3", **asked
        )
        assert rest.done


def test_returns_outside_the_window_or_before_delivery_are_refused(engine: Engine) -> None:
    from datetime import timedelta

    order, delivered, lines = delivered_order(engine, 1)
    sku = next(iter(lines))
    late = writes.request_return(
        order.order_number, {sku: 1}, "unwanted", customer_id=order.customer_id,
        key="r-late", actor="customer", today=delivered + timedelta(days=31), engine=engine,
    )  # fmt: skip
    assert (late.done, late.status) == (False, "window_passed")
    shipped = an_order(engine, "shipped", offset=3)
    with Session(engine) as session:
        from erp.models import OrderLine

        line = session.scalars(
            select(OrderLine).where(OrderLine.order_number == shipped.order_number)
        ).first()
    assert line is not None
    early = writes.request_return(
        shipped.order_number, {line.sku: 1}, "unwanted", customer_id=shipped.customer_id,
        key="r-early", actor="customer", today=SEED_TODAY, engine=engine,
    )  # fmt: skip
    assert (early.done, early.status) == (False, "not_delivered")


def test_a_change_waiting_on_a_held_order_gives_up_and_changes_nothing(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another transaction holds the order (a stuck ERP job): the change waits at most the
    # statement timeout, then the customer is told the ERP is unavailable; nothing changed.
    from sqlalchemy import text

    monkeypatch.setenv("ERP_STATEMENT_TIMEOUT_MS", "500")
    writer = writes.make_write_engine(engine.url.render_as_string(hide_password=False))
    order = an_order(engine, "confirmed", offset=5)
    holder = writes.make_write_engine(engine.url.render_as_string(hide_password=False))
    try:
        with holder.begin() as held:
            if engine.dialect.name == "sqlite":
                held.execute(text("UPDATE warehouses SET city = city"))  # takes the write lock
            else:
                held.execute(
                    select(SalesOrder).where(SalesOrder.order_number == order.order_number)
                    .with_for_update()
                )  # fmt: skip
            with pytest.raises(ErpUnavailable):
                writes.cancel_order(
                    order.order_number, customer_id=order.customer_id, key="k-held",
                    actor="customer", engine=writer,
                )  # fmt: skip
    finally:
        writer.dispose()
        holder.dispose()
    assert status_of(engine, order.order_number) == "confirmed"
    assert writes_under(engine, "k-held") == 0
