"""The one-off backfill of issue 20's key change: opt-outs of the old, sender-keyed table reach the number-keyed
Suppressions table, a later change already there wins, and running it again changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3

from smscore.dal.opt_out_backfill import backfill_opt_outs
from smscore.dal.suppression_store import DynamoSuppressionList
from smscore.dal.tables import InboundMessageRecord
from smscore.domain.ports import ConsentChange, RecordOutcome
from tests.conftest import Stack

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SENDER = "twilio:+15550001111"
ANA, BETO, CARO = "+573001234567", "+573001110000", "+573002220000"
OLD_TABLE = "old-suppressions"


def _old_table_with(items: list[dict[str, object]]) -> None:
    """The table as the previous release declared it: (sender HASH, number RANGE)."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(
        TableName=OLD_TABLE,
        AttributeDefinitions=[
            {"AttributeName": "sender", "AttributeType": "S"},
            {"AttributeName": "number", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "sender", "KeyType": "HASH"}, {"AttributeName": "number", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for item in items:
        client.put_item(TableName=OLD_TABLE, Item=item)  # type: ignore[arg-type]


def _old(number: str, opted_out: bool, at: datetime, keyword: str = "STOP") -> dict[str, object]:
    return {
        "sender": {"S": SENDER},
        "number": {"S": number},
        "opted_out": {"BOOL": opted_out},
        "keyword": {"S": keyword},
        "changed_at": {"S": at.strftime("%Y-%m-%dT%H:%M:%S.%f+0000")},
        "provider": {"S": "twilio"},
    }


def test_the_backfill_copies_opt_outs_keeps_later_changes_and_can_run_again(stack: Stack) -> None:
    # Given the old table: Ana and Beto opted out at 12:00, Caro opted back in, and a keyword message's marker
    marker = {
        "sender": {"S": "inbound#twilio#SM1"},
        "number": {"S": "message"},
        "outcome": {"S": "APPLIED"},
        "handled_at": {"S": T0.strftime("%Y-%m-%dT%H:%M:%S.%f+0000")},
        "expires_at": {"N": str(int((T0 + timedelta(days=30)).timestamp()))},
    }
    _old_table_with([_old(ANA, True, T0), _old(BETO, True, T0), _old(CARO, False, T0, "START"), marker])
    # And, in the new table already, Beto's START of 12:05 (a reply that arrived after the deploy)
    suppressions = DynamoSuppressionList()
    later = ConsentChange(BETO, SENDER, False, "START", T0 + timedelta(minutes=5), "twilio")
    assert suppressions.record(later) is RecordOutcome.APPLIED

    # When the backfill runs
    report = backfill_opt_outs(OLD_TABLE)

    # Then Ana is suppressed, Beto's later START stands, Caro is not suppressed, and the marker is in place
    assert (report.copied, report.kept_newer, report.markers) == (2, 1, 1)
    assert suppressions.suppressed([ANA, BETO, CARO], SENDER, consistent=True) == {ANA}
    assert suppressions.opt_outs([ANA], SENDER)[ANA].at == T0
    assert InboundMessageRecord.get("inbound#twilio#SM1", "message").outcome == "APPLIED"
    # And a replay of that keyword message is still recognised as one
    replay = ConsentChange(ANA, SENDER, True, "STOP", T0 + timedelta(hours=1), "twilio", "SM1")
    assert suppressions.record(replay, T0 + timedelta(days=30)) is RecordOutcome.DUPLICATE

    # When it runs again / Then nothing changes
    again = backfill_opt_outs(OLD_TABLE)
    assert (again.copied, again.kept_newer, again.markers) == (0, 3, 1)
    assert suppressions.suppressed([ANA, BETO, CARO], SENDER, consistent=True) == {ANA}
