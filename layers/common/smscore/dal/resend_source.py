"""PynamoDB reads for a resend: the original campaign, how each of its messages ended, and its contacts now.

Every read is by primary key and strongly consistent: the messages by the ids the send path derived from the
queue id and the recipient's position (`message_id_for`, 0 .. total_messages - 1), so a receipt that just landed
is seen and no eventually consistent index is involved; the contacts by (tenant, contact id).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import chain

from smscore.dal.tables import ContactRecord, DispatchRecord, MessageRecord
from smscore.domain.campaign import message_id_for
from smscore.domain.gsm import EncodingOption
from smscore.domain.model import MessageStatus
from smscore.domain.resend import MessageOutcome, OriginalCampaign

BATCH_GET_SIZE = 100  # DynamoDB's BatchGetItem limit
READ_SLICE = 1_000  # keys per worker task
OUTCOME_ATTRIBUTES = [
    "message_id",
    "tenant_id",
    "queue_id",
    "recipient",
    "contact_id",
    "status",
    "provider_error_code",
    "failure_reason",
]


class DynamoResendSource:
    def __init__(self, workers: int = 8) -> None:
        self._workers = workers

    def original_campaign(self, tenant_id: str, queue_id: str) -> OriginalCampaign | None:
        try:
            record = DispatchRecord.get(queue_id, consistent_read=True)
        except DispatchRecord.DoesNotExist:
            return None
        if record.tenant_id != tenant_id:
            return None
        return OriginalCampaign(
            queue_id=record.queue_id,
            body=record.body,
            tag_ids=list(record.tag_ids or []),
            country=record.country,
            total_messages=int(record.total_messages),
            resends=tuple(sorted(record.resends or ())),
            encoding=EncodingOption(record.encoding) if record.encoding else EncodingOption.AUTO,
            track_links=bool(record.track_links),
        )

    def message_outcomes(self, campaign: OriginalCampaign, tenant_id: str) -> list[MessageOutcome]:
        ids = [message_id_for(campaign.queue_id, ordinal) for ordinal in range(campaign.total_messages)]
        records = self._messages(ids)
        if not records and ids:
            # A campaign sent before message ids were derived from the queue id: its ids are in the queue index.
            from smscore.dal.message_queries import queue_messages

            records = self._messages([mid for mid, _recipient in queue_messages(campaign.queue_id)])
        return [
            MessageOutcome(
                recipient=record.recipient,
                contact_id=record.contact_id,
                status=MessageStatus(record.status),
                provider_error_code=record.provider_error_code,
                failure_reason=record.failure_reason,
            )
            for record in records
            if record.tenant_id == tenant_id and record.queue_id == campaign.queue_id
        ]

    def contacts_opted_out(self, tenant_id: str, contact_ids: Sequence[str]) -> dict[str, bool]:
        def read(keys: Sequence[str]) -> list[tuple[str, bool]]:
            return [
                (record.contact_id, bool(record.opted_out))
                for record in ContactRecord.batch_get(
                    [(tenant_id, cid) for cid in keys],
                    consistent_read=True,
                    attributes_to_get=["tenant_id", "contact_id", "opted_out"],
                )
            ]

        return dict(self._in_parallel(read, list(contact_ids)))

    def _messages(self, message_ids: Sequence[str]) -> list[MessageRecord]:
        def read(keys: Sequence[str]) -> list[MessageRecord]:
            return list(MessageRecord.batch_get(keys, consistent_read=True, attributes_to_get=OUTCOME_ATTRIBUTES))

        return self._in_parallel(read, list(message_ids))

    def _in_parallel[T](self, read: Callable[[Sequence[str]], list[T]], keys: list[str]) -> list[T]:
        slices = [keys[i : i + READ_SLICE] for i in range(0, len(keys), READ_SLICE)]
        if len(slices) <= 1:
            return read(keys) if keys else []
        with ThreadPoolExecutor(max_workers=min(self._workers, len(slices))) as pool:
            return list(chain.from_iterable(pool.map(read, slices)))
