"""The sweeper's adapters: the delivery dead-letter queue as a source of records, and the fenced redrive marks on
messages (smscore.domain.sweeper)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import ValidationError
from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import Condition

from smscore.dal.sqs_queue import QueueBatchModel
from smscore.dal.tables import MessageRecord
from smscore.domain.model import MessageStatus, StoredMessage
from smscore.domain.sweeper import DeadLetter, Redrives

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

SQS_RECEIVE_LIMIT = 10


class SqsDeadLetterQueue:
    """ReceiveMessage in tens (short polls); a body that is not a delivery record comes back as a DeadLetter without
    a batch, with the reason (never the body) for the caller to report before deleting it."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def take(self, limit: int) -> list[DeadLetter]:
        letters: list[DeadLetter] = []
        seen: set[str] = set()
        while len(letters) < limit:
            messages = self._client.receive_message(
                QueueUrl=self._queue_url, MaxNumberOfMessages=min(SQS_RECEIVE_LIMIT, limit - len(letters))
            ).get("Messages", [])
            fresh = [m for m in messages if m["MessageId"] not in seen]
            if not fresh:
                break  # empty, or back to records this run already holds (a visibility timeout shorter than the run)
            for message in fresh:
                handle, message_id = message["ReceiptHandle"], message["MessageId"]
                seen.add(message_id)
                try:
                    batch = QueueBatchModel.model_validate_json(message["Body"]).to_batch()
                except ValidationError as exc:
                    from smscore.observability import validation_reason

                    letters.append(DeadLetter(handle, None, message_id, unreadable=validation_reason(exc)))
                    continue
                letters.append(DeadLetter(handle, batch, message_id))
        return letters

    def delete(self, letter: DeadLetter) -> None:
        self._client.delete_message(QueueUrl=self._queue_url, ReceiptHandle=letter.handle)


class DynamoRedriveMarks:
    def read(self, message_ids: Sequence[str]) -> dict[str, Redrives]:
        found: dict[str, Redrives] = {}
        records = MessageRecord.batch_get(
            list(message_ids), consistent_read=True, attributes_to_get=["message_id", "redrives", "redriven_at"]
        )
        for record in records:
            found[record.message_id] = Redrives(int(record.redrives or 0), record.redriven_at)
        return found

    def mark(self, message: StoredMessage, seen: Redrives, now: datetime) -> bool:
        condition: Condition = MessageRecord.status == message.status.value
        if message.attempts == 0:
            condition &= MessageRecord.attempts.does_not_exist() | (MessageRecord.attempts == 0)
        else:
            condition &= MessageRecord.attempts == message.attempts
        if message.status is MessageStatus.SENDING:
            condition &= MessageRecord.lease_until < now  # a live lease is its owner's
        if seen.count == 0:
            condition &= MessageRecord.redrives.does_not_exist() | (MessageRecord.redrives == 0)
        else:
            condition &= MessageRecord.redrives == seen.count
        try:
            MessageRecord(message.message_id).update(
                actions=[MessageRecord.redrives.add(1), MessageRecord.redriven_at.set(now)], condition=condition
            )
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True
