"""Receipts and replies applied to real databases (SQLite and PostgreSQL).

The planned rows are the ``sms_rows`` fixtures' (tests/conftest.py)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import Engine, select

from channels.base import InboundMessage, Receipt
from dispatcher.audience import optouts
from dispatcher.delivery.receipts import ReceiptReport, apply_receipts, record_inbound
from dispatcher.delivery.transitions import Transition, advance
from dispatcher.storage.tables import deliveries, delivery_events


def move(engine: Engine, delivery_id: int, state: str, ref: str | None = None) -> None:
    """What the engine does: claim (``sending``), then record the provider's answer."""
    with engine.begin() as conn:
        assert advance(conn, [Transition(state, delivery_id=delivery_id, provider_ref=ref)],
                       actor="engine") == [delivery_id]


def row(engine: Engine, delivery_id: int) -> tuple[str, str | None, str | None]:
    query = select(deliveries.c.status, deliveries.c.provider_ref, deliveries.c.error_code
                   ).where(deliveries.c.id == delivery_id)
    with engine.connect() as conn:
        status, ref, code = conn.execute(query).one()
    return status, ref, code


def events(engine: Engine, delivery_id: int) -> list[tuple[str, str]]:
    query = (select(delivery_events.c.actor, delivery_events.c.event)
             .where(delivery_events.c.delivery_id == delivery_id)
             .order_by(delivery_events.c.id))
    with engine.connect() as conn:
        return [(actor, event) for actor, event in conn.execute(query)]


@pytest.fixture
def sent(engine: Engine, sms_rows_first_sent: list[int]) -> tuple[Engine, int]:
    """A row the provider accepted as SM1."""
    return engine, sms_rows_first_sent[0]


def test_receipt_moves_a_sent_row_to_delivered(sent: tuple[Engine, int]) -> None:
    engine, first = sent
    report = apply_receipts(engine, [Receipt("SM1", "delivered", detail="twilio delivered")])
    assert report == ReceiptReport(received=1, applied=1, delivery_ids=[first])
    assert row(engine, first) == ("delivered", "SM1", None)
    assert events(engine, first)[-1] == ("webhook", "delivered")


def test_receipt_by_delivery_id_records_the_ref_of_a_row_still_sending(
        engine: Engine, sms_rows: list[int]) -> None:
    first = sms_rows[0]
    move(engine, first, "sending")  # the provider answered, but we have not recorded it yet
    report = apply_receipts(engine, [Receipt("SM9", "sent", delivery_id=first)])
    assert report.applied == 1
    assert row(engine, first) == ("sent", "SM9", None)


def test_failure_receipt_keeps_the_error_code(sent: tuple[Engine, int]) -> None:
    engine, first = sent
    apply_receipts(engine, [Receipt("SM1", "undelivered", delivery_id=first, code="30003")])
    assert row(engine, first) == ("undelivered", "SM1", "30003")


def test_late_sent_never_overwrites_delivered(sent: tuple[Engine, int]) -> None:
    engine, first = sent
    apply_receipts(engine, [Receipt("SM1", "delivered", delivery_id=first)])
    before = events(engine, first)
    report = apply_receipts(engine, [Receipt("SM1", "sent", delivery_id=first)])
    assert report == ReceiptReport(received=1, unchanged=1)
    assert row(engine, first)[0] == "delivered"
    assert events(engine, first) == before


def test_repeated_receipt_changes_nothing_and_logs_no_event(sent: tuple[Engine, int]) -> None:
    engine, first = sent
    receipt = Receipt("SM1", "delivered", delivery_id=first)
    assert apply_receipts(engine, [receipt]).applied == 1
    before = events(engine, first)
    assert apply_receipts(engine, [receipt, receipt]) == ReceiptReport(received=2, unchanged=2)
    assert events(engine, first) == before


def test_unknown_receipts_are_counted_and_logged_not_errors(
        sent: tuple[Engine, int], caplog: pytest.LogCaptureFixture) -> None:
    engine, first = sent
    caplog.set_level(logging.INFO, logger="dispatcher.delivery.receipts")
    report = apply_receipts(engine, [Receipt("SM-unknown", "delivered"),
                                     Receipt("SM2", "delivered", delivery_id=first + 1000),
                                     Receipt("SM1", "delivered")])
    assert report == ReceiptReport(received=3, applied=1, unmatched=2, delivery_ids=[first])
    unmatched = [r for r in caplog.records if "matches no delivery row" in r.getMessage()]
    assert [r.levelno for r in unmatched] == [logging.INFO, logging.INFO]
    assert "SM-unknown" in unmatched[0].getMessage()


def test_no_receipts_touch_nothing(engine: Engine) -> None:
    assert apply_receipts(engine, []) == ReceiptReport()


@pytest.mark.parametrize("word", ["STOP", "TD", "退订", " td "])
def test_opt_out_reply_opts_the_number_out_of_the_channel(engine: Engine, word: str) -> None:
    message = InboundMessage("+8613800000001", word, opt_out=True)
    assert record_inbound(engine, "sms", message) is True
    assert record_inbound(engine, "sms", message) is False  # already recorded
    [recorded] = optouts.iter_optouts(engine)
    assert (recorded.channel, recorded.address, recorded.source) == (
        "sms", "+8613800000001", "reply")
    assert recorded.reason == f'replied "{word.strip()}"'
    assert optouts.is_opted_out(engine, "+8613800000001", "sms")


def test_ordinary_reply_records_nothing(engine: Engine) -> None:
    assert record_inbound(engine, "sms", InboundMessage("+8613800000001", "thanks", False)) is False
    assert list(optouts.iter_optouts(engine)) == []


def test_opt_out_from_an_unusable_address_is_logged_not_raised(
        engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    assert record_inbound(engine, "sms", InboundMessage("+1381", "STOP", True)) is False
    assert list(optouts.iter_optouts(engine)) == []
    assert any(r.levelno == logging.WARNING for r in caplog.records)


def test_concurrent_callbacks_share_commits_and_each_is_applied(
        engine: Engine, sms_rows: list[int]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from dispatcher.delivery.receipts import ReceiptBatcher

    ids = sms_rows
    for n, delivery_id in enumerate(ids):
        move(engine, delivery_id, "sent", f"SM{n}")
    batcher = ReceiptBatcher(engine)
    receipts = [Receipt(f"SM{n}", "delivered") for n in range(len(ids))]
    with ThreadPoolExecutor(max_workers=len(ids) * 2) as pool:
        reports = list(pool.map(lambda r: batcher.apply([r]), receipts + receipts))
    assert sum(r.applied for r in reports) == len(ids)
    assert sum(r.unchanged for r in reports) == len(ids)
    assert {row(engine, i)[0] for i in ids} == {"delivered"}


def test_an_opt_out_error_in_a_receipt_opts_the_recipient_out(
        engine: Engine, sms_rows: list[int]) -> None:
    ids = sms_rows
    move(engine, ids[0], "sent", "SMblocked")
    move(engine, ids[1], "sent", "SMunreachable")
    apply_receipts(engine, [Receipt("SMblocked", "undelivered", code="30004", opt_out=True),
                            Receipt("SMunreachable", "undelivered", code="30003")])
    assert optouts.is_opted_out(engine, "+8613800000001", "sms")
    assert not optouts.is_opted_out(engine, "+8613800000002", "sms")
    apply_receipts(engine, [Receipt("SMblocked", "undelivered", code="30004", opt_out=True)])


def test_twilio_error_codes_that_mean_opted_out() -> None:
    from channels.sms.twilio_callbacks import receipts_from

    url = "https://x/hooks/sms/status?d=7"
    blocked = receipts_from({"MessageSid": "SM1", "MessageStatus": "undelivered",
                             "ErrorCode": "30004"}, url)
    unreachable = receipts_from({"MessageSid": "SM2", "MessageStatus": "undelivered",
                                 "ErrorCode": "30003"}, url)
    assert blocked[0].opt_out and blocked[0].delivery_id == 7
    assert not unreachable[0].opt_out


@pytest.mark.parametrize("bad", [
    Receipt("SM1", "delivered", delivery_id=2**63), Receipt("SM1", "delivered", delivery_id=-7),
    Receipt("SM1", "delivered", delivery_id=10**30), Receipt("SM_%-中" * 20, "delivered"),
    Receipt("SM1", "undelivered", code="3" * 65), Receipt("SM1", "failed", detail="\x00"),
    Receipt("SM1", "failed", detail="lone \udc00")],
    ids=["2^63", "negative", "30-digits", "long-ref", "long-code", "nul", "surrogate"])
def test_values_no_row_can_hold_are_refused_before_anything_is_written(
        sent: tuple[Engine, int], bad: Receipt) -> None:
    from channels.base import MalformedRequest

    engine, first = sent
    before = events(engine, first)
    with pytest.raises(MalformedRequest):
        apply_receipts(engine, [Receipt("SM1", "delivered", delivery_id=first), bad])
    assert row(engine, first) == ("sent", "SM1", None)
    assert events(engine, first) == before
