"""Every contract case runs once per implementation: the in-memory fake, and the AWS adapter on moto."""

from __future__ import annotations

import pytest

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
def messages(request: pytest.FixtureRequest) -> MessageStoreSide:
    if request.param == "in-memory":
        return InMemoryMessages()
    return DynamoMessages(region=_stack(request).names.region)


@pytest.fixture(params=IMPLEMENTATIONS)
def campaigns(request: pytest.FixtureRequest) -> CampaignStoreSide:
    if request.param == "in-memory":
        return InMemoryCampaigns()
    return DynamoCampaigns(region=_stack(request).names.region)


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
