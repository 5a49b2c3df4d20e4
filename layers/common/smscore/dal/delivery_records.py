"""An SQS record of the delivery queue as the deliver function reads it, through Powertools' parser.

Apart from sqs_queue so that only the deliver function imports Powertools' parser models (they load every
event source's model), and only when its first batch arrives.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import Json

from smscore.dal.sqs_queue import QueueBatchModel


class DeliveryRecord(SqsRecordModel):
    """A record whose body is a delivery-queue batch; one that is not is reported and dropped (deliver.parse_record)."""

    body: Json[QueueBatchModel]  # narrows SqsRecordModel's str body, as Powertools documents
