"""The RNE exclusion list on moto: smsctl and the S3 upload load it, a new snapshot replaces the old one at once as
the send path sees it, a stale list refuses marketing to CO (nothing debited), and transactional sends are exempt."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import pytest

from functions.exclusions import app as exclusions_app
from smscore.dal.exclusion_store import POINTER, DynamoExclusionList
from smscore.dal.tables import DispatchRecord, ExclusionRecord, MessageRecord, SettingRecord
from smscore.domain.compliance import bogota_today
from smscore.domain.exclusions import load_snapshot
from smscore.wiring import bound_settings
from smsdev.provision import create_buckets
from tests.conftest import LambdaContextStub, Stack, load_event
from tests.integration.conftest import Campaign, LocalEndpointStack, ok, smsctl
from tests.integration.test_preview_and_resend import PREVIEW, SEND, call

LISTED = "+573001234567"  # Ana in the `audience` fixture
OTHER = "+573009876543"
NOW = datetime.now(UTC)


@pytest.fixture
def exclusions(stack: Stack) -> DynamoExclusionList:
    bound_settings()
    return DynamoExclusionList()


def load(exclusions: DynamoExclusionList, *numbers: str, days_old: int = 0) -> None:
    load_snapshot(list(numbers), bogota_today() - timedelta(days=days_old), exclusions, now=NOW)


def vip_campaign(audience: Campaign, **extra: Any) -> dict[str, Any]:
    return {"message": "Oferta de hoy", "tagIds": [audience.tags["vip"]], **extra}


def sent_to(body: dict[str, Any]) -> list[str]:
    return sorted(m["recipient"] for m in body["messages"])


def test_a_new_snapshot_replaces_the_old_one_only_once_it_is_published(
    stack: Stack, audience: Campaign, exclusions: DynamoExclusionList
) -> None:
    # Given a current snapshot listing Ana
    load(exclusions, LISTED)
    status, body = call(audience, PREVIEW, vip_campaign(audience))
    assert (status, body["recipients"], body["skippedExcluded"], body["creditsRequired"]) == (200, 2, 1, 2)

    # When a new snapshot listing Beto instead is written but not yet published
    new_id = "next#1"
    exclusions.write_numbers(new_id, [OTHER], NOW + timedelta(days=90))
    # Then sends still see the old snapshot whole: Ana skipped, Beto reached
    status, body = call(audience, SEND, vip_campaign(audience))
    assert status == 201
    assert OTHER in sent_to(body)
    assert LISTED not in sent_to(body)

    # When it is loaded and published
    load(exclusions, OTHER)
    # Then the next send skips Beto and reaches Ana, and nothing was charged for a skipped number
    status, body = call(audience, SEND, vip_campaign(audience))
    assert status == 201
    assert LISTED in sent_to(body)
    assert OTHER not in sent_to(body)
    assert audience.balance() == 1000 - 2 - 2
    assert audience.ledger_sum() == audience.balance()


@pytest.mark.parametrize("days_old", [16, None])
def test_a_stale_or_missing_list_refuses_marketing_to_co_and_changes_nothing(
    stack: Stack, audience: Campaign, exclusions: DynamoExclusionList, days_old: int | None
) -> None:
    # Given a snapshot 16 days old (ExclusionListMaxAgeDays is 15), or none at all
    if days_old is None:
        SettingRecord.get(POINTER).delete()
    else:
        load(exclusions, LISTED, days_old=days_old)
    # When a marketing campaign to Colombian numbers is previewed or sent
    for path in (PREVIEW, SEND):
        status, body = call(audience, path, vip_campaign(audience))
        # Then it is refused with the snapshot's date, and nothing is written or debited
        assert (status, body["code"]) == (409, "EXCLUSION_LIST_STALE")
        expected = None if days_old is None else (bogota_today() - timedelta(days=days_old)).isoformat()
        assert body["snapshotDate"] == expected
    assert list(MessageRecord.scan()) == []
    assert list(DispatchRecord.scan()) == []
    assert stack.drain_delivery_queue() == []
    assert audience.balance() == audience.ledger_sum() == 1000


def test_transactional_sends_are_exempt_even_without_a_list(
    stack: Stack, audience: Campaign, exclusions: DynamoExclusionList
) -> None:
    load(exclusions, LISTED)
    status, body = call(audience, SEND, vip_campaign(audience, purpose="transactional"))
    assert status == 201
    assert LISTED in sent_to(body)
    SettingRecord.get(POINTER).delete()
    status, body = call(audience, SEND, vip_campaign(audience, purpose="transactional"))
    assert (status, len(body["messages"])) == (201, 3)


def test_a_snapshots_numbers_are_keyed_by_number(stack: Stack, exclusions: DynamoExclusionList) -> None:
    load(exclusions, "3001234567", "+57 310 555 0101")
    (current,) = [s for s in SettingRecord.scan() if s.setting == POINTER]
    items = sorted((i.number, i.snapshot) for i in ExclusionRecord.scan())
    snapshot_id = DynamoExclusionList().current().snapshot_id  # type: ignore[union-attr]
    assert items == [("+573001234567", snapshot_id), ("+573105550101", snapshot_id)]
    assert current.value.count('"count": 2') == 1


# ---------------------------------------------------------------------------------------------- the S3 upload


def upload_event(bucket: str, key: str) -> dict[str, Any]:
    event = copy.deepcopy(load_event("eventbridge_s3_object_created.json"))
    event["detail"]["bucket"]["name"] = bucket
    event["detail"]["object"]["key"] = key
    return event


def test_an_upload_under_exclusions_is_loaded_and_made_current(stack: Stack, exclusions: DynamoExclusionList) -> None:
    # Given a CSV uploaded to the imports bucket under exclusions/<date>.csv
    s3 = boto3.client("s3", region_name=stack.names.region)
    create_buckets(s3, stack.names)
    bucket = stack.names.bucket("ImportsBucket")
    day = bogota_today() - timedelta(days=2)
    body = "\ufeffnumero,canales\n3001234567,sms\n3109998877,voz\n3201112233,all\n"
    s3.put_object(Bucket=bucket, Key=f"exclusions/{day.isoformat()}.csv", Body=body.encode())
    # When the function gets its Object Created event
    result = exclusions_app.lambda_handler(
        upload_event(bucket, f"exclusions/{day.isoformat()}.csv"), LambdaContextStub()
    )
    # Then the SMS rows are the current snapshot, dated by the key
    assert result == {"status": "loaded", "snapshotDate": day.isoformat(), "count": 2}
    current = exclusions.current()
    assert current is not None
    assert (current.snapshot_date, current.count) == (day, 2)
    assert exclusions.listed(current, ["+573001234567", "+573109998877", "+573201112233"]) == {
        "+573001234567",
        "+573201112233",
    }


def test_an_upload_without_a_date_in_its_key_is_ignored(stack: Stack, exclusions: DynamoExclusionList) -> None:
    before = exclusions.current()
    result = exclusions_app.lambda_handler(upload_event("b", "exclusions/latest.csv"), LambdaContextStub())
    assert result == {"status": "ignored"}
    assert exclusions.current() == before


# ---------------------------------------------------------------------------------------------- smsctl


def test_smsctl_imports_a_snapshot_and_reports_its_status(
    local: LocalEndpointStack, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    # Given no snapshot yet
    assert ok(capsys, "exclusions", "status") == {"snapshotDate": None, "count": 0, "loadedAt": None}
    # When a file is imported with its date
    listing = tmp_path / "rne.csv"
    listing.write_text("3001234567\n3001234568,sms\n3001234569,voz\n", encoding="utf-8")
    imported = ok(capsys, "exclusions", "import", str(listing), "--snapshot-date", "2026-12-01")
    # Then it is current, with its date and count, and status says so
    assert (imported["snapshotDate"], imported["count"]) == ("2026-12-01", 2)
    assert ok(capsys, "exclusions", "status") == imported


@pytest.mark.parametrize("argv", [["--snapshot-date", "01/12/2026"], []])
def test_smsctl_needs_an_iso_snapshot_date(
    local: LocalEndpointStack, capsys: pytest.CaptureFixture[str], tmp_path: Any, argv: list[str]
) -> None:
    listing = tmp_path / "rne.csv"
    listing.write_text("3001234567\n", encoding="utf-8")
    result = smsctl(capsys, "exclusions", "import", str(listing), *argv)
    assert (result.code, result.out) == (2, "")
    assert ok(capsys, "exclusions", "status")["snapshotDate"] is None


def test_smsctl_refuses_a_snapshot_from_the_future(
    local: LocalEndpointStack, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    listing = tmp_path / "rne.csv"
    listing.write_text("3001234567\n", encoding="utf-8")
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    result = smsctl(capsys, "exclusions", "import", str(listing), "--snapshot-date", tomorrow)
    assert result.code == 1
    assert "future" in result.err
