"""DynamoDB implementation of the SuppressionList port: the Suppressions table, one item per (sender, number).

Reads are strongly consistent: a STOP recorded a moment ago must already stop the next send. The bulk form
reads by key for a delivery record's few numbers (BatchGetItem, 100 keys per call), and reads the sender's
partition instead for a campaign's audience (one Query per MB of that sender's opt-outs, however large the
audience): a sender's opt-outs are a small share of the numbers it sends to.

A change that names its provider message is written in one transaction with that message's marker
(InboundMessageRecord, same table, TTL'd): the marker's `attribute_not_exists` makes a redelivery or a replay
DUPLICATE, and the suppression's `changed_at < :at` makes an older change SUPERSEDED. Both in one write, so a
crash between them cannot leave a message remembered but not applied (Lambda's retry would then be refused).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pynamodb.connection import Connection
from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from smscore.dal.tables import InboundMessageRecord, SuppressionRecord
from smscore.domain.ports import ConsentChange, RecordOutcome

BATCH_GET_KEYS = 100  # BatchGetItem's limit per call
MAX_REFERENCE_LENGTH = 256  # a provider message id is 34 (Twilio) or 36 (AWS) characters; longer is not one
TRANSACTION_ATTEMPTS = 3


def _conditional_check_failed(exc: PutError) -> bool:
    return exc.cause_response_code == "ConditionalCheckFailedException"


def _failed_conditions(exc: TransactWriteError) -> list[bool] | None:
    """Per transaction item: did its condition fail (TransactionCanceledException's CancellationReasons). None
    when it was cancelled by a conflict with another transaction on the same items (worth one more try);
    anything else (throttling, validation...) is raised."""
    reasons = exc.cancellation_reasons if exc.cause_response_code == "TransactionCanceledException" else []
    codes = [r.code if r is not None else "None" for r in reasons]
    if codes and all(code in ("None", "ConditionalCheckFailed", "TransactionConflict") for code in codes):
        if "ConditionalCheckFailed" not in codes:
            return None
        return [code == "ConditionalCheckFailed" for code in codes]
    raise exc


def _change_item(change: ConsentChange) -> SuppressionRecord:
    return SuppressionRecord(
        change.sender,
        change.number,
        opted_out=change.opted_out,
        keyword=change.keyword,
        changed_at=change.at,
        provider=change.provider,
        reference=change.reference,
    )


def _newer_than_stored(change: ConsentChange) -> Condition:
    newer: Condition = SuppressionRecord.number.does_not_exist() | (SuppressionRecord.changed_at < change.at)
    return newer


class DynamoSuppressionList:
    def __init__(self) -> None:
        self._connection: Connection | None = None

    def _transactions(self) -> Connection:
        if self._connection is None:  # the models are bound to their table (and endpoint) by then
            self._connection = Connection(region=SuppressionRecord.Meta.region, host=SuppressionRecord.Meta.host)
        return self._connection

    def record(self, change: ConsentChange, remember_until: datetime | None = None) -> RecordOutcome:
        reference = (change.reference or "")[:MAX_REFERENCE_LENGTH]
        if not reference or remember_until is None:
            return self._record_change(change)
        marker = InboundMessageRecord(
            InboundMessageRecord.key_for(change.provider, reference),
            InboundMessageRecord.MARKER,
            outcome=RecordOutcome.APPLIED.value,
            handled_at=change.at,
            expires_at=remember_until,
        )
        not_seen = InboundMessageRecord.message_key.does_not_exist()
        for attempt in range(TRANSACTION_ATTEMPTS):
            try:
                with TransactWrite(connection=self._transactions()) as tx:
                    tx.save(marker, condition=not_seen)
                    tx.save(_change_item(change), condition=_newer_than_stored(change))
            except TransactWriteError as exc:
                failed = _failed_conditions(exc)
                if failed is None and attempt + 1 < TRANSACTION_ATTEMPTS:
                    continue  # a concurrent transaction on these items (the same message delivered twice)
                if failed is None:
                    raise
                if failed[0]:  # the marker: this message was handled already
                    return RecordOutcome.DUPLICATE
                return self._remember_superseded(marker, not_seen)
            return RecordOutcome.APPLIED
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    @staticmethod
    def _remember_superseded(marker: InboundMessageRecord, not_seen: Condition) -> RecordOutcome:
        """Older than what is stored: remember the message anyway, so replaying it later (a Twilio replay is dated
        at its new receipt) is a duplicate rather than a newer change."""
        marker.outcome = RecordOutcome.SUPERSEDED.value
        try:
            marker.save(condition=not_seen)
        except PutError as exc:
            if _conditional_check_failed(exc):
                return RecordOutcome.DUPLICATE  # the same message, handled concurrently
            raise
        return RecordOutcome.SUPERSEDED

    def _record_change(self, change: ConsentChange) -> RecordOutcome:
        try:
            _change_item(change).save(condition=_newer_than_stored(change))
        except PutError as exc:
            if _conditional_check_failed(exc):
                return RecordOutcome.SUPERSEDED  # a later change is stored already: it wins
            raise
        return RecordOutcome.APPLIED

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
            return set(self.opt_outs(sorted(wanted), sender))
        opted_out = SuppressionRecord.query(
            sender,
            filter_condition=SuppressionRecord.opted_out == True,  # noqa: E712 - a PynamoDB condition, not a test
            consistent_read=True,
            attributes_to_get=["number"],
        )
        return {item.number for item in opted_out} & wanted

    def opt_outs(self, numbers: Sequence[str], sender: str) -> dict[str, ConsentChange]:
        """By key: one BatchGetItem per 100 numbers (PynamoDB splits the keys and retries unprocessed ones)."""
        keys = [(sender, n) for n in sorted(set(numbers))]
        if not keys:
            return {}
        items = SuppressionRecord.batch_get(keys, consistent_read=True)
        return {
            item.number: ConsentChange(
                number=item.number,
                sender=item.sender,
                opted_out=True,
                keyword=item.keyword,
                at=item.changed_at,
                provider=item.provider,
                reference=item.reference,
            )
            for item in items
            if item.opted_out
        }
