"""The ParkedReceipts store: a receipt that overtook our SENT write, kept under (provider, provider message id),
the first one parked staying, the same in the fake and in DynamoDB."""

from __future__ import annotations

from datetime import timedelta

import pytest

from smscore.dal.parked_receipts import DynamoParkedReceipts
from smscore.domain.model import MessageStatus, Receipt
from smscore.domain.ports import ParkedReceipts
from tests.contract.test_receipt_store import SID, T0
from tests.contract.test_receipt_store import receipt as receipt_store_receipt
from tests.delivery_fakes import InMemoryParkedReceipts


@pytest.fixture(params=["in-memory", "dynamodb"])
def parked(request: pytest.FixtureRequest) -> ParkedReceipts:
    if request.param == "in-memory":
        return InMemoryParkedReceipts()
    request.getfixturevalue("stack")  # the moto account with the template's tables
    return DynamoParkedReceipts()


def receipt(
    status: MessageStatus = MessageStatus.DELIVERED,
    *,
    sid: str = SID,
    provider: str = "twilio",
    message_id: str | None = "m-1",
) -> Receipt:
    """A receipt of the ReceiptStore's contract, under Twilio's SID unless told otherwise."""
    return receipt_store_receipt(status, message_id=message_id, sid=sid, provider=provider)


def test_a_parked_receipt_reads_back_as_it_was(parked: ParkedReceipts) -> None:
    # Given nothing parked / When a receipt (with and without our id) is parked
    assert parked.parked("twilio", SID) is None
    assert parked.park(receipt(MessageStatus.UNDELIVERED), T0 + timedelta(days=3))
    assert parked.park(receipt(sid="SM-2", message_id=None), T0 + timedelta(days=3))
    # Then each reads back whole, under its key only
    assert parked.parked("twilio", SID) == receipt(MessageStatus.UNDELIVERED)
    assert parked.parked("twilio", "SM-2") == receipt(sid="SM-2", message_id=None)
    assert parked.parked("twilio", "SM-3") is None


def test_the_first_receipt_parked_under_a_key_stays(parked: ParkedReceipts) -> None:
    assert parked.park(receipt(MessageStatus.UNDELIVERED), T0)
    assert not parked.park(receipt(MessageStatus.DELIVERED), T0)
    assert not parked.park(receipt(MessageStatus.UNDELIVERED), T0)
    assert parked.parked("twilio", SID) == receipt(MessageStatus.UNDELIVERED)


def test_the_same_provider_id_of_another_provider_is_another_key(parked: ParkedReceipts) -> None:
    assert parked.park(receipt(provider="twilio"), T0)
    assert parked.park(receipt(MessageStatus.UNDELIVERED, provider="aws_sms"), T0)
    assert parked.parked("aws_sms", SID) == receipt(MessageStatus.UNDELIVERED, provider="aws_sms")
    assert parked.parked("twilio", SID) == receipt(provider="twilio")


def test_a_receipt_without_a_provider_id_is_refused(parked: ParkedReceipts) -> None:
    with pytest.raises(ValueError, match="provider message id"):
        parked.park(receipt(sid=""), T0)
