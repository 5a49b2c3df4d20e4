"""Composition root: the real adapters, built on first use from the settings, never at import time.

Every function imports `bound_settings` from here, but only send_by_tags needs the campaign adapters: those
are imported inside their factories so that the other functions' cold starts don't pay for them.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from smscore.dal.tables import bind_tables
from smscore.settings import Settings, get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.dynamodb import DynamoDBPersistenceLayer

    from smscore.dal.campaign_store import DynamoCampaignStore
    from smscore.dal.sqs_queue import SqsDeliveryQueue
    from smscore.domain.campaign import CampaignLimits


@cache
def bound_settings() -> Settings:
    """Settings, with every PynamoDB model pointed at its table."""
    settings = get_settings()
    bind_tables(settings, settings.aws_region)
    return settings


@cache
def campaign_store() -> DynamoCampaignStore:
    from smscore.dal.campaign_store import DynamoCampaignStore

    settings = bound_settings()
    return DynamoCampaignStore(region=settings.aws_region, write_workers=settings.write_workers)


@cache
def delivery_queue() -> SqsDeliveryQueue:
    import boto3

    from smscore.dal.sqs_queue import SqsDeliveryQueue

    settings = bound_settings()
    return SqsDeliveryQueue(boto3.client("sqs", region_name=settings.aws_region), settings.delivery_queue_url)


@cache
def idempotency_store() -> DynamoDBPersistenceLayer:
    import boto3
    from aws_lambda_powertools.utilities.idempotency.persistence.dynamodb import DynamoDBPersistenceLayer

    settings = bound_settings()
    return DynamoDBPersistenceLayer(
        table_name=settings.idempotency_table,
        boto3_client=boto3.client("dynamodb", region_name=settings.aws_region),
    )


def campaign_limits(settings: Settings) -> CampaignLimits:
    from smscore.domain.campaign import CampaignLimits
    from smscore.providers.limits import CHARACTER_LIMITS

    return CampaignLimits(
        max_recipients=settings.max_recipients,
        recipients_per_queue_message=settings.recipients_per_queue_message,
        default_provider=settings.default_provider,
        character_limits=CHARACTER_LIMITS,
    )
