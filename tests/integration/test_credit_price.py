"""The tenant's price per credit in pesos (creditPriceCop): kept by the operator with smsctl, read by GET /api/me."""

from __future__ import annotations

import pytest

from tests.integration.conftest import LocalEndpointStack, ok, smsctl


def test_the_operator_sets_and_clears_the_credit_price(
    local: LocalEndpointStack, capsys: pytest.CaptureFixture[str]
) -> None:
    from smscore.dal.tables import TenantRecord

    tenant_id = ok(capsys, "tenant", "create", "--name", "Tienda", "--credits", "0", "--country", "CO")["tenantId"]

    assert ok(capsys, "tenant", "credit-price", "--tenant", tenant_id, "--cop", "13.50")["creditPriceCop"] == "13.5"
    assert TenantRecord.get(tenant_id).credit_price_cop == "13.5"
    assert ok(capsys, "tenant", "credit-price", "--tenant", tenant_id, "--cop", "140")["creditPriceCop"] == "140"
    assert ok(capsys, "tenant", "credit-price", "--tenant", tenant_id, "--clear")["creditPriceCop"] is None
    assert TenantRecord.get(tenant_id).credit_price_cop is None


@pytest.mark.parametrize("cop", ["0", "-3", "abc", "1.23456", "NaN"])
def test_a_price_that_is_not_a_positive_amount_is_refused(
    local: LocalEndpointStack, capsys: pytest.CaptureFixture[str], cop: str
) -> None:
    from smscore.dal.tables import TenantRecord

    tenant_id = ok(capsys, "tenant", "create", "--name", "Tienda", "--credits", "0", "--country", "CO")["tenantId"]

    assert smsctl(capsys, "tenant", "credit-price", "--tenant", tenant_id, "--cop", cop).code != 0
    assert TenantRecord.get(tenant_id).credit_price_cop is None
