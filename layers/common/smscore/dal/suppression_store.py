"""DynamoDB implementation of the SuppressionList port: the Suppressions table, one item per (number, sender).

The partition key is the recipient's number, the sort key the sender (issue 20, item 1): the sender is
stack-wide, so keying by sender put every tenant's opt-outs on one partition key, which capped the delivery
check at one partition's 3,000 read units/s and made a campaign's send check read the sender's whole list. Keyed
by number, every read is by key and spreads over the table's partitions like the numbers themselves.

Reads:
- `suppressed` (the bulk form: a campaign's audience at send, a delivery record's numbers before its sends) is
  BatchGetItem by key, 100 keys per call, up to READ_WORKERS calls in parallel: it reads the audience's numbers
  only, however many opt-outs the sender has. It is eventually consistent by default (half a read unit per
  number): a STOP written less than about a second before the read may not be seen by that read; the delivery
  check of the next record (every record re-checks right before its sends) sees it. docs/delivery.md states
  the window.
- `is_suppressed` and `opt_outs` (one number, a page of contacts) stay strongly consistent.

A change that names its provider message is written in one transaction with that message's marker
(InboundMessageRecord, same table, TTL'd): the marker's `attribute_not_exists` makes a redelivery or a replay
DUPLICATE, and the suppression's `changed_at < :at` makes an older change SUPERSEDED. Both in one write, so a
crash between them cannot leave a message remembered but not applied (Lambda's retry would then be refused).

Whether a write changed the state (contact.opted_out / opted_in, smscore.domain.consent_events) is known without a
read before it: the newer-than-stored condition is tried in two halves, "and it moves the state" first, then "and
it keeps it". A repeated STOP costs one failed conditional write more; only the write that moved the state says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from pynamodb.connection import Connection
from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from smscore.dal.raw_reads import batch_get_items
from smscore.dal.tables import InboundMessageRecord, SuppressionRecord
from smscore.domain.ports import ConsentChange, Recorded, RecordOutcome

BATCH_GET_KEYS = 100  # BatchGetItem's limit per call
MAX_REFERENCE_LENGTH = 256  # a provider message id is 34 (Twilio) or 36 (AWS) characters; longer is not one
TRANSACTION_ATTEMPTS = 3
STATE_RACE_ROUNDS = 5  # rounds of (moves, keeps) when the state keeps moving between the two conditional writes
READ_WORKERS = 16  # BatchGetItem calls in flight for a large audience: 50,000 numbers are 500 calls, 32 rounds


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
        number=change.number,
        sender=change.sender,
        opted_out=change.opted_out,
        keyword=change.keyword,
        changed_at=change.at,
        provider=change.provider,
        reference=change.reference,
    )


def _moving_then_keeping(change: ConsentChange) -> tuple[tuple[bool, Condition], tuple[bool, Condition]]:
    """`_newer_than_stored` split in two: (True, it moves the state) and (False, it keeps it). No entry is the state
    "not opted out". The write that succeeds under the first is the one writer that saw this change of state."""
    absent = SuppressionRecord.number.does_not_exist()
    newer = SuppressionRecord.changed_at < change.at
    was_other = SuppressionRecord.opted_out == (not change.opted_out)
    was_same = ~was_other  # the complement, so that the two halves always cover "newer" whole
    if change.opted_out:
        return (True, absent | (newer & was_other)), (False, newer & was_same)
    return (True, newer & was_other), (False, absent | (newer & was_same))


class DynamoSuppressionList:
    def __init__(self) -> None:
        self._connection: Connection | None = None

    def _transactions(self) -> Connection:
        if self._connection is None:  # the models are bound to their table (and endpoint) by then
            self._connection = Connection(region=SuppressionRecord.Meta.region, host=SuppressionRecord.Meta.host)
        return self._connection

    def record(self, change: ConsentChange, remember_until: datetime | None = None) -> RecordOutcome:
        return self.apply(change, remember_until).outcome

    def apply(self, change: ConsentChange, remember_until: datetime | None = None) -> Recorded:
        """Written under "it moves the state" first, then "it keeps it" (each conditional, so exactly one writer
        sees a change of state); when both conditions fail the stored change is as recent or more (SUPERSEDED),
        unless the state moved between the two tries (read once, consistently), which starts again."""
        reference = (change.reference or "")[:MAX_REFERENCE_LENGTH]
        if not reference or remember_until is None:
            return self._apply_change(change)
        marker = InboundMessageRecord(
            InboundMessageRecord.key_for(change.provider, reference),
            InboundMessageRecord.MARKER,
            outcome=RecordOutcome.APPLIED.value,
            handled_at=change.at,
            expires_at=remember_until,
        )
        not_seen = InboundMessageRecord.message_key.does_not_exist()
        conflicts = 0
        for _round in range(STATE_RACE_ROUNDS):
            tried = 0
            for changed, condition in _moving_then_keeping(change):
                try:
                    with TransactWrite(connection=self._transactions()) as tx:
                        tx.save(marker, condition=not_seen)
                        tx.save(_change_item(change), condition=condition)
                except TransactWriteError as exc:
                    failed = _failed_conditions(exc)
                    if failed is None:
                        conflicts += 1  # a concurrent transaction on these items (the same message delivered twice)
                        if conflicts >= TRANSACTION_ATTEMPTS:
                            raise
                        break
                    if failed[0]:  # the marker: this message was handled already
                        return Recorded(RecordOutcome.DUPLICATE)
                    tried += 1
                    continue
                return Recorded(RecordOutcome.APPLIED, changed)
            if tried == 2 and not self._newer_than_stored(change):
                return Recorded(self._remember_superseded(marker, not_seen))
        raise RuntimeError("Suppression kept changing under this write")

    @staticmethod
    def _newer_than_stored(change: ConsentChange) -> bool:
        try:
            stored = SuppressionRecord.get(change.number, change.sender, consistent_read=True)
        except SuppressionRecord.DoesNotExist:
            return True
        return bool(stored.changed_at < change.at)

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

    def _apply_change(self, change: ConsentChange) -> Recorded:
        for _round in range(STATE_RACE_ROUNDS):
            for changed, condition in _moving_then_keeping(change):
                try:
                    _change_item(change).save(condition=condition)
                except PutError as exc:
                    if _conditional_check_failed(exc):
                        continue
                    raise
                return Recorded(RecordOutcome.APPLIED, changed)
            if not self._newer_than_stored(change):
                return Recorded(RecordOutcome.SUPERSEDED)  # a later change is stored already: it wins
        raise RuntimeError("Suppression kept changing under this write")

    def is_suppressed(self, number: str, sender: str) -> bool:
        try:
            item = SuppressionRecord.get(number, sender, consistent_read=True)
        except SuppressionRecord.DoesNotExist:
            return False
        return bool(item.opted_out)

    def suppressed(self, numbers: Sequence[str], sender: str, *, consistent: bool = False) -> set[str]:
        """By key, in parallel chunks of 100: only the numbers asked about are read (see the module docstring)."""
        wanted = sorted(set(numbers))
        if not wanted:
            return set()
        chunks = [wanted[i : i + BATCH_GET_KEYS] for i in range(0, len(wanted), BATCH_GET_KEYS)]
        if len(chunks) == 1:
            return self._opted_out(chunks[0], sender, consistent)
        with ThreadPoolExecutor(max_workers=min(READ_WORKERS, len(chunks))) as pool:
            found = pool.map(lambda chunk: self._opted_out(chunk, sender, consistent), chunks)
            return set().union(*found)

    @staticmethod
    def _opted_out(numbers: Sequence[str], sender: str, consistent: bool) -> set[str]:
        keys = [{"number": {"S": n}, "sender": {"S": sender}} for n in numbers]
        items = batch_get_items(SuppressionRecord, keys, ["number", "opted_out"], consistent)
        return {item["number"]["S"] for item in items if item.get("opted_out", {}).get("BOOL")}

    def opt_outs(self, numbers: Sequence[str], sender: str) -> dict[str, ConsentChange]:
        """By key: one BatchGetItem per 100 numbers (PynamoDB splits the keys and retries unprocessed ones)."""
        keys = [(n, sender) for n in sorted(set(numbers))]
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
