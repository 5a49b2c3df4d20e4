"""DynamoDB implementation of the SuppressionList port: the Suppressions table, one item per (sender, number).

Reads are strongly consistent: a STOP recorded a moment ago must already stop the next send. The bulk form
reads by key for a delivery record's few numbers (BatchGetItem, 100 keys per call), and reads the sender's
partition instead for a campaign's audience (one Query per MB of that sender's opt-outs, however large the
audience): a sender's opt-outs are a small share of the numbers it sends to.
"""

from __future__ import annotations

from collections.abc import Sequence

from pynamodb.exceptions import PutError

from smscore.dal.tables import SuppressionRecord
from smscore.domain.ports import ConsentChange

BATCH_GET_KEYS = 100  # BatchGetItem's limit per call


def _conditional_check_failed(exc: PutError) -> bool:
    return exc.cause_response_code == "ConditionalCheckFailedException"


class DynamoSuppressionList:
    def record(self, change: ConsentChange) -> bool:
        item = SuppressionRecord(
            change.sender,
            change.number,
            opted_out=change.opted_out,
            keyword=change.keyword,
            changed_at=change.at,
            provider=change.provider,
            reference=change.reference,
        )
        try:
            item.save(condition=SuppressionRecord.number.does_not_exist() | (SuppressionRecord.changed_at < change.at))
        except PutError as exc:
            if _conditional_check_failed(exc):
                return False  # a later change is stored already: it wins
            raise
        return True

    def is_suppressed(self, number: str, sender: str) -> bool:
        try:
            item = SuppressionRecord.get(sender, number, consistent_read=True)
        except SuppressionRecord.DoesNotExist:
            return False
        return bool(item.opted_out)

    def suppressed(self, numbers: Sequence[str], sender: str) -> set[str]:
        wanted = set(numbers)
        if not wanted:
            return set()
        if len(wanted) <= BATCH_GET_KEYS:
            items = SuppressionRecord.batch_get([(sender, n) for n in sorted(wanted)], consistent_read=True)
            return {item.number for item in items if item.opted_out}
        opted_out = SuppressionRecord.query(
            sender,
            filter_condition=SuppressionRecord.opted_out == True,  # noqa: E712 - a PynamoDB condition, not a test
            consistent_read=True,
            attributes_to_get=["number"],
        )
        return {item.number for item in opted_out} & wanted
