"""DELIVERY_WORKERS threads of one deliver invocation share each client: every pool they draw from holds at least
that many connections (botocore's and urllib3's default of 10 would make 40 of 50 sends wait for a connection,
and botocore log "Connection pool is full")."""

from __future__ import annotations

from typing import Any

import pytest

from smscore import wiring
from smscore.dal.message_store import DynamoMessageStore
from smscore.dal.tables import LedgerRecord, MessageRecord, TenantRecord
from smscore.providers.registry import default_registry
from smsdev.provision import function_environment
from tests.conftest import Stack

WORKERS = 64


def botocore_pool(client: Any) -> int:
    size: int = client.meta.config.max_pool_connections
    return size


@pytest.fixture
def deliver_settings(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Any:
    environment = {
        **function_environment(stack.names, "DeliverFunction"),
        "DELIVERY_WORKERS": str(WORKERS),
        "TWILIO_MESSAGING_SERVICE_SID": "MG" + "0" * 32,
    }
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    wiring.reset()
    yield wiring.bound_settings()
    wiring.reset()


def test_dynamodb_pools_hold_delivery_workers_connections(deliver_settings: Any) -> None:
    # Given the deliver function's settings with DELIVERY_WORKERS=64
    # Then the models' clients (reads, claims, receipts) and the transaction connection each pool 64
    for model in (MessageRecord, TenantRecord, LedgerRecord):
        assert botocore_pool(model._get_connection().connection.client) == WORKERS
    store = DynamoMessageStore(region=deliver_settings.aws_region)
    assert botocore_pool(store._connection.client) == WORKERS


def test_provider_pools_hold_delivery_workers_connections(deliver_settings: Any) -> None:
    registry = default_registry(deliver_settings)
    assert botocore_pool(registry.get("aws_sms")._client) == WORKERS  # type: ignore[attr-defined]
    assert registry.get("twilio")._pool.connection_pool_kw["maxsize"] == WORKERS  # type: ignore[attr-defined]
