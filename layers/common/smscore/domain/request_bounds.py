"""The largest campaign a request may still plan itself: trackLinks campaigns and resends above MaxSyncRecipients.

A send by tags above MaxSyncRecipients is planned by the fan-out workers (smscore.domain.planning), never by its
request. Two kinds are not: a `trackLinks` campaign (its short links' items are issued for the whole audience at
once) and a resend (its recipients are the original campaign's messages, not tag members). Their request reads and
screens every recipient: 1,000,000 of them is about 86 s modelled on AWS (docs/performance.md: the 50,000 POST's
modelled seconds x 20), three times API Gateway's 29 s, so the client would get a 504 after half a minute, not
knowing whether anything happened. Above MAX_REQUEST_PLANNED_RECIPIENTS (200,000: about 17 s by the same model,
leaving the init and the deadline's reserve) such a request is refused at once with 400 AUDIENCE_TOO_LARGE_FOR_REQUEST,
counted before anything is read (the tags' contact counts; the original campaign's messages), nothing written or
debited. The campaigns from MaxSyncRecipients up to that bound, which their request plans in time, go on as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smscore.domain.campaign import CampaignLimits, CampaignRequest
from smscore.domain.errors import AudienceTooLargeForRequest

if TYPE_CHECKING:
    from smscore.domain.planning import WorkerPlanning  # at runtime only with a fan-out (cold start)

MAX_REQUEST_PLANNED_RECIPIENTS = 200_000


def check_tracked_links(request: CampaignRequest, limits: CampaignLimits, planning: WorkerPlanning | None) -> None:
    """A trackLinks send (or preview) by tags whose contact counts add up to more than the bound: refused."""
    if planning is None or not request.track_links or not request.tag_ids or request.resend_of is not None:
        return
    if limits.max_sync_recipients is None:
        return
    count = planning.intake.tag_contacts(request.tenant_id, request.tag_ids)
    bound = max(MAX_REQUEST_PLANNED_RECIPIENTS, limits.max_sync_recipients)
    if count > bound:
        raise AudienceTooLargeForRequest(
            count,
            bound,
            "trackLinks",
            "send it without trackLinks (planned by the workers, 202), or to smaller tags",
        )


def check_resend(total_messages: int, limits: CampaignLimits) -> None:
    """A resend of a campaign of more messages than the bound (its request would read them all): refused."""
    if limits.max_sync_recipients is None:
        return
    bound = max(MAX_REQUEST_PLANNED_RECIPIENTS, limits.max_sync_recipients)
    if total_messages > bound:
        raise AudienceTooLargeForRequest(
            total_messages,
            bound,
            "resend",
            "a resend reads every message of the original campaign: available for campaigns of at most that size",
        )
