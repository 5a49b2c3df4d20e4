"""Domain exceptions. Each carries a stable machine-readable code; HTTP mapping lives in smscore.api.errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class FieldIssue:
    field: str
    message: str


class DomainError(Exception):
    """Base of every error a client may see; `code` is part of the public contract."""

    code: str = "INTERNAL_ERROR"

    def __init__(self, message: str, *, details: list[FieldIssue] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.extra = extra


class InvalidRequest(DomainError):
    code = "VALIDATION_ERROR"


class InvalidCharacter(InvalidRequest):
    """A name holds a character it may not (smscore.domain.names); `codePoint` and `position` (1-based) say which."""

    code = "INVALID_CHARACTER"


class InvalidSignature(DomainError):
    code = "INVALID_SIGNATURE"


class InsufficientCredits(DomainError):
    code = "INSUFFICIENT_CREDITS"

    def __init__(self, required: int, available: int) -> None:
        super().__init__(
            f"This campaign needs {required} credits but the balance is {available}",
            required=required,
            available=available,
        )
        self.required = required
        self.available = available


class TooManyRecipients(DomainError):
    code = "TOO_MANY_RECIPIENTS"

    def __init__(self, count: int, limit: int) -> None:
        super().__init__(
            f"The tags reach {count} recipients; at most {limit} are allowed per request",
            recipients=count,
            limit=limit,
        )


class TenantNotFound(DomainError):
    code = "TENANT_NOT_FOUND"


class AccessRevoked(DomainError):
    """The token was revoked, or its member disabled, after the authorizer's cached decision."""

    code = "UNAUTHORIZED"


class InsufficientScope(DomainError):
    """A `read` API key asked to write (checked fresh on every write, smscore.api.access)."""

    code = "INSUFFICIENT_SCOPE"


class TermsNotAccepted(DomainError):
    """The member has not accepted the current terms (checked fresh on every spending request)."""

    code = "TERMS_NOT_ACCEPTED"


class NoTermsPublished(DomainError):
    """POST /api/me/terms with no terms version published: there is nothing to accept."""

    code = "NO_TERMS_PUBLISHED"


class NotFound(DomainError):
    code = "NOT_FOUND"


class QueueNotFound(NotFound):
    """No campaign with this queueId, or one of another tenant (reported alike): resend, cancel."""

    code = "QUEUE_NOT_FOUND"


class IdempotencyKeyReused(DomainError):
    code = "IDEMPOTENCY_KEY_REUSED"


class IdempotencyKeyRequired(DomainError):
    """A campaign answered 202 (above MaxSyncRecipients) must be retryable without paying twice."""

    code = "IDEMPOTENCY_KEY_REQUIRED"

    def __init__(self, count: int, limit: int) -> None:
        super().__init__(
            f"The tags reach {count} recipients: above {limit} a send is accepted asynchronously (202) and needs an "
            "Idempotency-Key header",
            recipients=count,
            maxSyncRecipients=limit,
        )


class AudienceTooLargeForRequest(DomainError):
    """A campaign that only its request can plan (trackLinks, a resend), too large to be planned within the request's
    time: refused before anything is read, written or debited, instead of a 504 (smscore.domain.request_bounds)."""

    code = "AUDIENCE_TOO_LARGE_FOR_REQUEST"

    def __init__(self, count: int, limit: int, reason: str, advice: str) -> None:
        super().__init__(
            f"{count} recipients: a {reason} campaign is planned inside its request, which reads at most {limit}; "
            + advice,
            recipients=count,
            limit=limit,
            reason=reason,
        )


class RequestInProgress(DomainError):
    code = "REQUEST_IN_PROGRESS"


class EnqueueFailure(DomainError):
    """Something failed after the debit; whatever was not enqueued was marked FAILED and refunded."""

    code = "ENQUEUE_FAILED"

    def __init__(self, queue_id: str, enqueued: int, refunded_credits: int) -> None:
        super().__init__(
            "The campaign could not be fully enqueued; messages not enqueued were marked FAILED and refunded",
            queueId=queue_id,
            enqueued=enqueued,
            refundedCredits=refunded_credits,
        )
        self.queue_id = queue_id
        self.enqueued = enqueued
        self.refunded_credits = refunded_credits


class TagExists(DomainError):
    """Another tag of the tenant has this name (case-insensitively); `tagId` names it."""

    code = "TAG_EXISTS"

    def __init__(self, existing_id: str) -> None:
        super().__init__("A tag with this name already exists", tagId=existing_id)
        self.existing_id = existing_id


class ContactExists(DomainError):
    """The tenant already has a contact with this number (in E.164); `contactId` names it."""

    code = "CONTACT_EXISTS"

    def __init__(self, existing_id: str) -> None:
        super().__init__("A contact with this phone number already exists", contactId=existing_id)
        self.existing_id = existing_id


class ConcurrentUpdate(DomainError):
    """The item kept changing under us (other writers won every retry); nothing of this request was written."""

    code = "CONCURRENT_UPDATE"


class SenderNameRequired(DomainError):
    """A marketing send to Colombia needs the sender's name in the text (CRC Res. 6522 de 2022), and the tenant
    cleared its `senderName` (PUT /api/settings)."""

    code = "SENDER_NAME_REQUIRED"


class OptOutLinkUnavailable(DomainError):
    """Marketing to Colombia through a route without two-way SMS there (AWS End User Messaging SMS) ends with an
    opt-out link (Ley 2300 de 2023, art. 5 par. 2), and the stack has no `LinkBaseUrl` to build it from."""

    code = "OPT_OUT_LINK_UNAVAILABLE"


class ExclusionListStale(DomainError):
    """Marketing to Colombia must consult the RNE (Ley 2300 de 2023, art. 5): with no exclusion-list snapshot, or
    one older than ExclusionListMaxAgeDays, a marketing send to CO is refused (nothing debited)."""

    code = "EXCLUSION_LIST_STALE"


class TestSendLimit(DomainError):
    """The member reached today's test messages (`limit`); they may send again tomorrow (Bogota's day)."""

    code = "TEST_SEND_LIMIT"
    __test__ = False  # not a pytest class


class UnknownMergeField(InvalidRequest):
    """The message names a merge field that is neither built in ({nombre}, {name}) nor declared; `field` names it."""

    code = "UNKNOWN_MERGE_FIELD"


class MergeFieldMissing(InvalidRequest):
    """A merge field without a fallback has no value for some recipients; `field` and `recipients` say which and how
    many (the preview shows the same count; `{field|fallback}` sends anyway)."""

    code = "MERGE_FIELD_MISSING"
