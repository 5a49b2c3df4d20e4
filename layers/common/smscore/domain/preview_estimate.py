"""The preview of an audience above MaxSyncRecipients: from a bounded read, never a read of every member.

A send above MaxSyncRecipients is planned by the fan-out workers (smscore.domain.planning) because reading and
screening 1,000,000 tag members takes about 90 s, three times API Gateway's 29 s. A preview of that audience would
spend the same time and end in a 504. So the preview reads what the send request reads (`members_upto`: the tags'
memberships until they hold more than MaxSyncRecipients distinct contacts) and, when that read is incomplete, reads
the same share of every tag (the members whose contact id sorts below one boundary: about MaxSyncRecipients
memberships, shared contacts included), screens and prices it as always and scales every count by the tags'
memberships over the memberships read: an estimate, marked `estimated`, whose exact figures the queue's planning
status gives once the planners have read everyone.

Up to MaxSyncRecipients distinct contacts nothing changes: the preview plans exactly the members the send plans
(preview == charge).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from smscore.domain.campaign import CampaignLimits, CampaignRequest, plannable
from smscore.domain.model import TagRecipient

if TYPE_CHECKING:
    from smscore.domain.planning import WorkerPlanning  # at runtime only with a fan-out (cold start)

SAMPLE_CAP = 2  # the estimate's sample stops at twice MaxSyncRecipients memberships (ids not spread as hashes)


@dataclass(frozen=True)
class PreviewAudience:
    """Whom a preview plans. `members` None: the tags' members, read as always. `factor` None: exact figures;
    else the tags' memberships over the memberships read (> 1): what every count is multiplied by."""

    members: Callable[[], Sequence[TagRecipient]] | None = None
    factor: float | None = None

    @property
    def estimated(self) -> bool:
        return self.factor is not None

    def limits(self, limits: CampaignLimits) -> CampaignLimits:
        """What the members are planned under: an estimate's audience is not checked against MaxRecipients (the
        planners check the exact count: FAILED TOO_MANY_RECIPIENTS, nothing charged)."""
        return limits if self.factor is None else replace(limits, max_recipients=10**9)

    def scale(self, count: int) -> int:
        """`count` of the read, extrapolated to the whole audience (rounded to the nearest whole)."""
        return count if self.factor is None else round(count * self.factor)


def preview_audience(
    request: CampaignRequest, limits: CampaignLimits, planning: WorkerPlanning | None
) -> PreviewAudience:
    """What the preview of `request` reads: the same bounded read as the send request's `accept_for_planning`."""
    if planning is None or not plannable(request, limits):
        return PreviewAudience()
    assert limits.max_sync_recipients is not None
    limit = limits.max_sync_recipients
    memberships = planning.intake.tag_contacts(request.tenant_id, request.tag_ids)
    if memberships <= limit:
        return PreviewAudience()
    read = planning.intake.members_upto(request.tenant_id, request.tag_ids, limit)
    members = read.members
    if read.complete or not members:
        return PreviewAudience(members=lambda: members)
    # The send's read is the first tag's first members: it cannot see contacts shared with the other tags. So the
    # estimate screens the same share of every tag instead: the memberships whose contact id (a uniform hash,
    # smscore.domain.contacts) sorts below the id at share limit / memberships, about `limit` of them.
    below = str(uuid.UUID(int=min(2**128 - 1, 2**128 * limit // memberships)))
    sample = planning.intake.members_below(request.tenant_id, request.tag_ids, below, SAMPLE_CAP * limit)
    if sample.complete and sample.members:
        shared = sample.members
        return PreviewAudience(members=lambda: shared, factor=max(1.0, memberships / len(shared)))
    # ids not spread as hashes (or none below): the send's read, scaled (shared contacts then counted as distinct)
    return PreviewAudience(members=lambda: members, factor=max(1.0, memberships / len(members)))
