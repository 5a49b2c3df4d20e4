"""PynamoDB implementation of the sandbox provider's Outbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from smscore.dal.tables import OutboxRecord
from smscore.domain.ports import OutboxEntry, SmsRequest

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoOutbox:
    def record(self, request: SmsRequest, provider_message_id: str, accepted_at: datetime | None = None) -> OutboxEntry:
        """One UpdateItem: the first request creates the entry, later ones only bump `send_count`."""
        item = OutboxRecord(request.message_id)
        item.update(
            actions=[
                OutboxRecord.provider_message_id.set(
                    OutboxRecord.provider_message_id | provider_message_id  # if_not_exists
                ),
                OutboxRecord.tenant_id.set(request.tenant_id),
                OutboxRecord.recipient.set(request.recipient),
                OutboxRecord.body.set(request.body),
                OutboxRecord.sent_at.set(OutboxRecord.sent_at | (accepted_at or datetime.now(UTC))),
                OutboxRecord.send_count.add(1),
            ]
        )
        return OutboxEntry(provider_message_id=item.provider_message_id, send_count=int(item.send_count))


class DynamoCarrierCapacity:
    """The sandbox carrier's capacity for the whole fleet: one counter item per second in the Senders table."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def admit(self, second: int, capacity: int) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"sender": {"S": f"carrier#sandbox#{second}"}},
                UpdateExpression="ADD accepted :one",
                ConditionExpression="attribute_not_exists(accepted) OR accepted < :capacity",
                ExpressionAttributeValues={":one": {"N": "1"}, ":capacity": {"N": str(capacity)}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True
