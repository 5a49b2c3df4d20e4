"""Every contract case runs once per implementation: the in-memory fake, and the AWS adapter on moto."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smsdev.testing import serialised_moto
from tests.conftest import Stack
from tests.contract.sides import (
    CampaignStoreSide,
    DeliveryQueueSide,
    DynamoCampaigns,
    DynamoMessages,
    DynamoReceipts,
    InMemoryCampaigns,
    InMemoryMessages,
    InMemoryQueueSide,
    InMemoryReceipts,
    MessageStoreSide,
    ReceiptStoreSide,
    SqsQueueSide,
)

IMPLEMENTATIONS = ["in-memory", "dynamodb"]


def _stack(request: pytest.FixtureRequest) -> Stack:
    """The moto account with the template's tables, only for the DynamoDB side (the fake needs none)."""
    stack: Stack = request.getfixturevalue("stack")
    return stack


@pytest.fixture(params=IMPLEMENTATIONS)
def messages(request: pytest.FixtureRequest) -> Iterator[MessageStoreSide]:
    if request.param == "in-memory":
        yield InMemoryMessages()
        return
    region = _stack(request).names.region
    with serialised_moto():  # concurrent cases need DynamoDB's atomic conditional writes, which moto lacks
        yield DynamoMessages(region=region)


@pytest.fixture(params=IMPLEMENTATIONS)
def campaigns(request: pytest.FixtureRequest) -> Iterator[CampaignStoreSide]:
    if request.param == "in-memory":
        yield InMemoryCampaigns()
        return
    region = _stack(request).names.region
    with serialised_moto():
        yield DynamoCampaigns(region=region)


@pytest.fixture(params=IMPLEMENTATIONS)
def receipts(request: pytest.FixtureRequest) -> ReceiptStoreSide:
    if request.param == "in-memory":
        return InMemoryReceipts()
    return DynamoReceipts(region=_stack(request).names.region)


@pytest.fixture(params=["in-memory", "sqs"])
def delivery_queue(request: pytest.FixtureRequest) -> DeliveryQueueSide:
    if request.param == "in-memory":
        return InMemoryQueueSide()
    return SqsQueueSide(_stack(request))
