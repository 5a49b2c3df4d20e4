"""`smsctl tenant quiet-hours` against moto's HTTP server: what it stores is what the send path and delivery read."""

from __future__ import annotations

from datetime import time

import pytest

from smscore.dal.tables import TenantRecord
from smscore.dal.tenant_settings import stored_quiet_hours
from smscore.domain.model import QuietHours
from tests.integration.conftest import LocalEndpointStack, ok, smsctl

NO_SUCH_ID = "00000000-0000-4000-8000-000000000000"


def test_quiet_hours_are_set_and_cleared(local: LocalEndpointStack, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a tenant
    tenant_id = ok(capsys, "tenant", "create", "--name", "Acme", "--credits", "10", "--country", "CO")["tenantId"]
    # When quiet hours from 21:00 to 08:00 Bogota time are set
    shown = ok(capsys, "tenant", "quiet-hours", "--tenant", tenant_id, "--start", "21:00", "--end", "08:00")
    # Then they are printed and stored on the tenant as the send path reads them
    assert shown == {
        "tenantId": tenant_id,
        "quietHours": {"start": "21:00", "end": "08:00", "timeZone": "America/Bogota"},
    }
    record = TenantRecord.get(tenant_id, consistent_read=True)
    assert stored_quiet_hours(record) == QuietHours(time(21), time(8), "America/Bogota")
    # When they are cleared, Then the tenant has none
    assert ok(capsys, "tenant", "quiet-hours", "--tenant", tenant_id, "--clear")["quietHours"] is None
    assert stored_quiet_hours(TenantRecord.get(tenant_id, consistent_read=True)) is None


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--start", "21:00", "--end", "21:00"], 2, "differ"),
        (["--start", "21:00", "--end", "08:00", "--time-zone", "Mars/Olympus"], 2, "time zone"),
        (["--start", "9pm", "--end", "08:00"], 2, "Invalid"),
        (["--start", "21:00"], 2, "--clear"),
        (["--clear", "--start", "21:00", "--end", "08:00"], 2, "--clear"),
    ],
)
def test_wrong_quiet_hours_are_refused_and_nothing_is_stored(
    local: LocalEndpointStack, capsys: pytest.CaptureFixture[str], argv: list[str], code: int, message: str
) -> None:
    tenant_id = ok(capsys, "tenant", "create", "--name", "Acme", "--credits", "10")["tenantId"]
    result = smsctl(capsys, "tenant", "quiet-hours", "--tenant", tenant_id, *argv)
    assert (result.code, result.out) == (code, "")
    assert message in result.err
    assert stored_quiet_hours(TenantRecord.get(tenant_id, consistent_read=True)) is None


def test_an_unknown_tenant_is_an_error(local: LocalEndpointStack, capsys: pytest.CaptureFixture[str]) -> None:
    result = smsctl(capsys, "tenant", "quiet-hours", "--tenant", NO_SUCH_ID, "--start", "21:00", "--end", "08:00")
    assert (result.code, result.out) == (1, "")
    assert result.err.startswith("error: ")
    assert list(TenantRecord.scan()) == []
