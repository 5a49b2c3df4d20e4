"""Tags, contacts, imports, the campaign list and credits: thin routes over smscore.api.contacts.ContactsApi.

Reading needs a valid token; writing needs a member who accepted the current terms (the authorizer's policy
allows only GET otherwise: 403 TERMS_NOT_ACCEPTED), and every write re-checks the token, the member and the
terms fresh before it is routed (smscore.api.access.fresh_access_guard), like the send route. No
`from __future__ import annotations`: Powertools reads the parameter annotations at runtime.
"""

from typing import Annotated, Any
from uuid import UUID

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from smscore import wiring
from smscore.api.access import fresh_access_guard
from smscore.api.contacts import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    MAX_PHONE_LENGTH,
    MAX_QUERY_LENGTH,
    Caller,
    CampaignPageDto,
    ContactDto,
    ContactPageDto,
    ContactPatchRequest,
    ContactRequest,
    ContactsApi,
    CreditsDto,
    ImportJobDto,
    ImportUploadDto,
    MergeFieldsDto,
    MergeFieldsRequest,
    SessionDto,
    TagDto,
    TagMergeDto,
    TagMergeRequest,
    TagNameRequest,
    TagPageDto,
    body_refusal,
)
from smscore.api.data_subject import ContactExportDto
from smscore.api.errors import BAD_REQUEST, NOT_JSON, TOO_LARGE, register_error_handlers
from smscore.api.errors import documented_error as error
from smscore.api.errors import documented_ok as success
from smscore.api.invocation import InvocationDeps
from smscore.api.middlewares import request_body_bytes
from smscore.api.pagination import MAX_CURSOR_LENGTH
from smscore.api.settings import SettingsApi, SettingsDto, SettingsUpdate
from smscore.api.templates import TemplateDto, TemplateListDto, TemplateRequest, TemplatesApi
from smscore.api.terms import TermsAcceptanceDto, TermsApi
from smscore.observability import quiet_empty_metrics, report_unparseable
from smscore.wiring import ContactsDeps

logger = Logger()
tracer = Tracer()
metrics = Metrics()
quiet_empty_metrics()
app = APIGatewayRestResolver(enable_validation=True)
invocation_deps: InvocationDeps[ContactsDeps] = InvocationDeps("contacts_deps")
register_error_handlers(app)


NAME_REFUSED = error(
    "Invalid parameters or body (code VALIDATION_ERROR; a body that is not UTF-8 names its byteOffset), or a name "
    "holding an invisible, control or noncharacter (code INVALID_CHARACTER, with codePoint and position)"
)
NOT_FOUND = error("No such item, or it belongs to another tenant (code NOT_FOUND)")
CONFLICT_UPDATE = error("The item kept changing under concurrent writers; retry (code CONCURRENT_UPDATE)")
NO_CONTENT: Any = {"description": "Deleted"}

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
Cursor = Annotated[str | None, Query(min_length=1, max_length=MAX_CURSOR_LENGTH)]


def contacts() -> ContactsApi:
    deps: ContactsDeps = invocation_deps.get()
    return deps.contacts


def tenant_id() -> str:
    tenant: str = app.current_event.request_context.authorizer["tenantId"]
    return tenant


def caller() -> Caller:
    authorizer = app.current_event.request_context.authorizer
    return Caller(tenant_id=authorizer["tenantId"], member_id=authorizer["memberId"])


def created[T](body: T) -> Response[T]:
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=body)


def no_content() -> Response[None]:
    return Response(status_code=204, body=None)


# ---------------------------------------------------------------------------------------------- tags


@app.get(
    "/api/tags",
    summary="The tenant's tags by name, with their contact counts",
    tags=["Tags"],
    responses={**success(TagPageDto, "One page of tags"), 400: BAD_REQUEST},
)
def list_tags(limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None) -> TagPageDto:
    return contacts().list_tags(tenant_id(), limit, cursor)


@app.post(
    "/api/tags",
    summary="Create a tag (names are unique per tenant, case-insensitively)",
    tags=["Tags"],
    responses={
        **success(TagDto, "The new tag", 201),
        400: NAME_REFUSED,
        409: error("A tag with this name exists (code TAG_EXISTS, tagId: the existing tag)"),
        413: TOO_LARGE,
        415: NOT_JSON,
    },
)
def create_tag(request: Annotated[TagNameRequest, Body()]) -> Response[TagDto]:
    return created(contacts().create_tag(tenant_id(), request))


@app.get(
    "/api/tags/<tagId>",
    summary="One tag with its contact count",
    tags=["Tags"],
    responses={**success(TagDto, "The tag"), 400: BAD_REQUEST, 404: NOT_FOUND},
)
def get_tag(tagId: Annotated[UUID, Path()]) -> TagDto:  # noqa: N803
    return contacts().get_tag(tenant_id(), str(tagId))


@app.patch(
    "/api/tags/<tagId>",
    summary="Rename a tag",
    tags=["Tags"],
    responses={
        **success(TagDto, "The renamed tag"),
        400: NAME_REFUSED,
        404: NOT_FOUND,
        409: error("Another tag has this name (TAG_EXISTS, tagId), or CONCURRENT_UPDATE"),
        413: TOO_LARGE,
        415: NOT_JSON,
    },
)
def rename_tag(tagId: Annotated[UUID, Path()], request: Annotated[TagNameRequest, Body()]) -> TagDto:  # noqa: N803
    return contacts().rename_tag(tenant_id(), str(tagId), request)


@app.delete(
    "/api/tags/<tagId>",
    summary="Delete a tag and its memberships (campaigns keep the id in their tagIds)",
    tags=["Tags"],
    responses={204: NO_CONTENT, 400: BAD_REQUEST, 404: NOT_FOUND, 409: CONFLICT_UPDATE},
)
def delete_tag(tagId: Annotated[UUID, Path()]) -> Response[None]:  # noqa: N803
    contacts().delete_tag(tenant_id(), str(tagId))
    return no_content()


@app.post(
    "/api/tags/<tagId>/merge",
    summary="Merge a tag into another: its contacts get the other tag, then it is deleted",
    tags=["Tags"],
    responses={
        **success(TagMergeDto, "The remaining tag and how many contacts moved"),
        400: BAD_REQUEST,
        404: NOT_FOUND,
        409: CONFLICT_UPDATE,
        413: TOO_LARGE,
        415: NOT_JSON,
    },
)
def merge_tag(tagId: Annotated[UUID, Path()], request: Annotated[TagMergeRequest, Body()]) -> TagMergeDto:  # noqa: N803
    return contacts().merge_tag(tenant_id(), str(tagId), request)


# ---------------------------------------------------------------------------------------------- contacts


@app.get(
    "/api/contacts",
    summary="The tenant's contacts, filtered and paginated",
    tags=["Contacts"],
    responses={
        **success(ContactPageDto, "One page of contacts (a filtered page may be short)"),
        400: BAD_REQUEST,
    },
)
def list_contacts(
    tag_id: Annotated[UUID | None, Query(alias="tagId")] = None,
    phone: Annotated[
        str | None, Query(min_length=1, max_length=MAX_PHONE_LENGTH, description="Normalised like sending")
    ] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=MAX_QUERY_LENGTH, description="Part of the name or number")
    ] = None,
    opted_out: Annotated[bool | None, Query(alias="optedOut")] = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> ContactPageDto:
    return contacts().list_contacts(
        tenant_id(),
        tag_id=str(tag_id) if tag_id else None,
        phone=phone,
        q=q,
        opted_out=opted_out,
        limit=limit,
        cursor=cursor,
    )


@app.post(
    "/api/contacts",
    summary="Create a contact (unique per tenant by its number in E.164)",
    tags=["Contacts"],
    responses={
        **success(ContactDto, "The new contact", 201),
        400: NAME_REFUSED,
        404: error("A tag in tagIds does not exist (code NOT_FOUND)"),
        409: error("A contact with this number exists (code CONTACT_EXISTS, contactId)"),
        413: TOO_LARGE,
        415: NOT_JSON,
    },
)
def create_contact(request: Annotated[ContactRequest, Body()]) -> Response[ContactDto]:
    return created(contacts().create_contact(tenant_id(), request))


@app.put(
    "/api/contacts",
    summary="Create a contact, or merge into the one with this number (tags added, name replaced when given)",
    tags=["Contacts"],
    responses={
        **success(ContactDto, "Merged into the existing contact"),
        **success(ContactDto, "Created", 201),
        400: NAME_REFUSED,
        404: error("A tag in tagIds does not exist (code NOT_FOUND)"),
        409: CONFLICT_UPDATE,
        413: TOO_LARGE,
        415: NOT_JSON,
    },
)
def upsert_contact(request: Annotated[ContactRequest, Body()]) -> Response[ContactDto]:
    was_created, contact = contacts().upsert_contact(tenant_id(), request)
    return Response(status_code=201 if was_created else 200, content_type=content_types.APPLICATION_JSON, body=contact)


@app.get(
    "/api/contacts/fields",
    summary="The tenant's custom contact fields, usable as merge fields ({ciudad}) in messages",
    tags=["Contacts"],
    responses={**success(MergeFieldsDto, "The declared fields, and the built-in ones")},
)
def get_contact_fields() -> MergeFieldsDto:
    return contacts().get_fields(tenant_id())


@app.put(
    "/api/contacts/fields",
    summary="Declare the tenant's custom contact fields (the whole list, at most 20)",
    tags=["Contacts"],
    responses={
        **success(MergeFieldsDto, "The fields as declared"),
        400: error("A name that is not a-z, 0-9 or _, built in, repeated, or more than 20 (code VALIDATION_ERROR)"),
        403: error("Current terms not accepted (TERMS_NOT_ACCEPTED) or tenant gone (TENANT_NOT_FOUND)"),
        413: TOO_LARGE,
        415: NOT_JSON,
    },
)
def put_contact_fields(request: Annotated[MergeFieldsRequest, Body()]) -> MergeFieldsDto:
    return contacts().put_fields(tenant_id(), request)


@app.get(
    "/api/contacts/<contactId>",
    summary="One contact",
    tags=["Contacts"],
    responses={**success(ContactDto, "The contact"), 400: BAD_REQUEST, 404: NOT_FOUND},
)
def get_contact(contactId: Annotated[UUID, Path()]) -> ContactDto:  # noqa: N803
    return contacts().get_contact(tenant_id(), str(contactId))


@app.patch(
    "/api/contacts/<contactId>",
    summary="Change the name, add or remove tags, opt out or back in",
    tags=["Contacts"],
    responses={
        **success(ContactDto, "The contact as changed"),
        400: NAME_REFUSED,
        404: error("No such contact, or a tag in addTagIds does not exist (code NOT_FOUND)"),
        409: CONFLICT_UPDATE,
        413: TOO_LARGE,
        415: NOT_JSON,
    },
)
def update_contact(
    contactId: Annotated[UUID, Path()],  # noqa: N803
    request: Annotated[ContactPatchRequest, Body()],
) -> ContactDto:
    return contacts().update_contact(caller(), str(contactId), request)


@app.delete(
    "/api/contacts/<contactId>",
    summary="Delete a contact and its tag memberships; with erase=true also mask its number in the message history",
    tags=["Contacts"],
    responses={204: NO_CONTENT, 400: BAD_REQUEST, 404: NOT_FOUND, 409: CONFLICT_UPDATE},
)
def delete_contact(
    contactId: Annotated[UUID, Path()],  # noqa: N803
    erase: Annotated[bool, Query(description="Habeas Data erasure: mask the number in finished messages")] = False,
) -> Response[None]:
    if erase:
        deps: ContactsDeps = invocation_deps.get()
        assert deps.data_subject is not None, "erase needs a DataSubjectApi"
        masked, pending = deps.data_subject.erase(tenant_id(), str(contactId))
        logger.info("Contact erased", extra={"messages_masked": masked, "messages_pending": pending})
        return no_content()
    contacts().delete_contact(tenant_id(), str(contactId))
    return no_content()


# ---------------------------------------------------------------------------------------------- imports


@app.post(
    "/api/contacts/imports",
    summary="Import a small CSV sent as the body (Content-Type: text/csv; header phone,name,tags), at once",
    description="Idempotent by number: importing the same file again changes nothing; tags merge. "
    "At most 256 KiB (MAX_IMPORT_BODY_BYTES); larger files go through POST /api/contacts/imports/uploads.",
    tags=["Contacts"],
    responses={
        **success(ImportJobDto, "The finished import job, with its counts and rejected rows", 201),
        400: error(
            "No body, a header without phone,name,tags, bytes that are not UTF-8 (line, byteOffset) or a quote never "
            "closed (line): code VALIDATION_ERROR, nothing written"
        ),
        409: CONFLICT_UPDATE,
        413: error("Body over 256 KiB (code PAYLOAD_TOO_LARGE): use an upload"),
        415: error("Body is not text/csv (code UNSUPPORTED_MEDIA_TYPE)"),
    },
)
def import_csv() -> Response[ImportJobDto]:
    return created(contacts().import_csv(caller(), request_body_bytes(app.current_event.raw_event)))


@app.post(
    "/api/contacts/imports/uploads",
    summary="Start a large import: a job and a presigned URL to PUT the CSV to; the file is imported on arrival",
    tags=["Contacts"],
    responses={
        **success(ImportUploadDto, "The job (AWAITING_UPLOAD) and where to upload", 201),
        400: BAD_REQUEST,
        413: TOO_LARGE,
        415: NOT_JSON,
    },
)
def start_upload() -> Response[ImportUploadDto]:
    return created(contacts().start_upload(caller()))


@app.get(
    "/api/contacts/imports/<jobId>",
    summary="An import job: state, progress, counts, rejected rows with line numbers and reasons",
    tags=["Contacts"],
    responses={**success(ImportJobDto, "The import job"), 400: BAD_REQUEST, 404: NOT_FOUND},
)
def get_import(jobId: Annotated[UUID, Path()]) -> ImportJobDto:  # noqa: N803
    return contacts().get_import(tenant_id(), str(jobId))


# ---------------------------------------------------------------------------------------------- campaigns, credits


@app.get(
    "/api/messages/queues",
    summary="The tenant's campaigns, newest first, with counts by status, credits and tags",
    tags=["Status"],
    responses={**success(CampaignPageDto, "One page of campaigns"), 400: BAD_REQUEST},
)
def list_campaigns(limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None) -> CampaignPageDto:
    return contacts().list_campaigns(tenant_id(), limit, cursor)


@app.get(
    "/api/credits",
    summary="The balance and the ledger, newest first (the balance is always the sum of the ledger)",
    tags=["Credits"],
    responses={
        **success(CreditsDto, "Balance and one page of ledger entries"),
        400: BAD_REQUEST,
        403: error("The token's tenant no longer exists (code TENANT_NOT_FOUND)"),
    },
)
def get_credits(limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None) -> CreditsDto:
    return contacts().credits(tenant_id(), limit, cursor)


@app.get(
    "/api/me",
    summary="The caller: tenant name, member, access (FULL or READ_ONLY until the terms are accepted), balance",
    tags=["Credits"],
    responses={
        **success(SessionDto, "The token's tenant and member"),
        403: error("The token's tenant no longer exists (code TENANT_NOT_FOUND)"),
    },
)
def get_session() -> SessionDto:
    access = str(app.current_event.request_context.authorizer.get("access") or "READ_ONLY")
    if access != "FULL" and terms_api().has_current(caller().tenant_id, caller().member_id):
        access = "FULL"  # accepted since the authorizer's cached decision (POST /api/me/terms): read now
    return contacts().session(caller(), access)


def terms_api() -> TermsApi:
    deps: ContactsDeps = invocation_deps.get()
    assert deps.terms is not None, "the terms routes need a TermsApi"
    return deps.terms


@app.post(
    "/api/me/terms",
    summary="Accept the current terms of service (audited): the member's access is FULL from now on",
    tags=["Credits"],
    responses={
        **success(TermsAcceptanceDto, "Accepted now, or the acceptance already recorded for this version"),
        401: error("The token was revoked or its member disabled (code UNAUTHORIZED)"),
        403: error(
            "The token's tenant no longer exists (code TENANT_NOT_FOUND), or a read-only API key (code "
            "INSUFFICIENT_SCOPE)"
        ),
        # The route reads no body, but the API-wide guard still refuses JSON it cannot parse safely.
        400: error("A JSON body nested deeper than 32 levels or with a number over 64 digits (code VALIDATION_ERROR)"),
        409: error("No terms of service are published (code NO_TERMS_PUBLISHED)"),
        413: TOO_LARGE,
        415: NOT_JSON,
    },
)
def accept_terms() -> TermsAcceptanceDto:
    return terms_api().accept(caller().tenant_id, caller().member_id)


# ---------------------------------------------------------------------------------------------- data subject


@app.get(
    "/api/contacts/<contactId>/export",
    summary="Everything held about one contact: the contact and its consent, tags, opt-outs and messages (Habeas Data)",
    tags=["Contacts"],
    responses={
        **success(ContactExportDto, "The contact's data as one JSON document"),
        400: BAD_REQUEST,
        404: NOT_FOUND,
    },
)
def export_contact(contactId: Annotated[UUID, Path()]) -> ContactExportDto:  # noqa: N803
    from datetime import UTC, datetime

    deps: ContactsDeps = invocation_deps.get()
    assert deps.data_subject is not None, "the export route needs a DataSubjectApi"
    exported: ContactExportDto = deps.data_subject.export(tenant_id(), str(contactId), datetime.now(UTC))
    return exported


# ---------------------------------------------------------------------------------------------- settings


def tenant_settings() -> SettingsApi:
    deps: ContactsDeps = invocation_deps.get()
    assert deps.settings is not None, "the settings routes need a SettingsApi"
    return deps.settings


@app.get(
    "/api/settings",
    summary="The tenant's settings for Colombian marketing: sender name, opt-out text, frequency, consent, quiet hours",
    tags=["Settings"],
    responses={
        **success(SettingsDto, "The settings, defaults applied"),
        403: error("The token's tenant no longer exists (code TENANT_NOT_FOUND)"),
    },
)
def get_settings() -> SettingsDto:
    return tenant_settings().get(tenant_id())


@app.put(
    "/api/settings",
    summary="Change the settings the body names (null resets a field; senderName null clears it)",
    tags=["Settings"],
    responses={
        **success(SettingsDto, "The settings as stored"),
        400: NAME_REFUSED,
        403: error("Current terms not accepted (TERMS_NOT_ACCEPTED) or tenant gone (TENANT_NOT_FOUND)"),
        413: TOO_LARGE,
        415: NOT_JSON,
    },
)
def put_settings(request: Annotated[SettingsUpdate, Body()]) -> SettingsDto:
    return tenant_settings().put(tenant_id(), request)


# ---------------------------------------------------------------------------------------------- templates


def templates() -> TemplatesApi:
    deps: ContactsDeps = invocation_deps.get()
    assert deps.templates is not None, "the template routes need a TemplatesApi"
    return deps.templates


TemplateId = Annotated[UUID, Path()]
TEMPLATE_REFUSED = error(
    "Invalid body: a blank name, a text with nothing visible or with control characters, an unknown purpose or "
    "encoding, or already 100 templates (code VALIDATION_ERROR); a name with an invisible character "
    "(INVALID_CHARACTER)"
)


@app.get(
    "/api/templates",
    summary="The tenant's saved messages, by name",
    tags=["Templates"],
    responses={**success(TemplateListDto, "Every template (at most 100)")},
)
def list_templates() -> TemplateListDto:
    return templates().list(tenant_id())


@app.post(
    "/api/templates",
    summary="Save a message as a template",
    tags=["Templates"],
    responses={
        **success(TemplateDto, "The new template", 201),
        400: TEMPLATE_REFUSED,
        413: TOO_LARGE,
        415: NOT_JSON,
    },
)
def create_template(request: Annotated[TemplateRequest, Body()]) -> Response[TemplateDto]:
    return created(templates().create(tenant_id(), request))


@app.get(
    "/api/templates/<templateId>",
    summary="One template",
    tags=["Templates"],
    responses={**success(TemplateDto, "The template"), 400: BAD_REQUEST, 404: NOT_FOUND},
)
def get_template(templateId: TemplateId) -> TemplateDto:  # noqa: N803
    return templates().get(tenant_id(), str(templateId))


@app.put(
    "/api/templates/<templateId>",
    summary="Replace a template's name, text, purpose and encoding",
    tags=["Templates"],
    responses={
        **success(TemplateDto, "The template as saved"),
        400: TEMPLATE_REFUSED,
        404: NOT_FOUND,
        413: TOO_LARGE,
        415: NOT_JSON,
    },
)
def replace_template(templateId: TemplateId, request: Annotated[TemplateRequest, Body()]) -> TemplateDto:  # noqa: N803
    return templates().replace(tenant_id(), str(templateId), request)


@app.delete(
    "/api/templates/<templateId>",
    summary="Delete a template (campaigns sent from it keep its id)",
    tags=["Templates"],
    responses={204: NO_CONTENT, 400: BAD_REQUEST, 404: NOT_FOUND},
)
def delete_template(templateId: TemplateId) -> Response[None]:  # noqa: N803
    templates().delete(tenant_id(), str(templateId))
    return no_content()


# ---------------------------------------------------------------------------------------------- handlers


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: ContactsDeps | None = None) -> dict[str, Any]:
    deps = deps or wiring.contacts_deps()
    refused = body_refusal(event, deps.max_body_bytes, deps.max_import_body_bytes)
    if refused is not None:
        return refused
    invocation_deps.bind(deps)
    return resolve(event, context)


@fresh_access_guard(wiring.fresh_access)
def resolve(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """A write whose caller lost access since the authorizer's cached Allow is refused before routing."""
    return app.resolve(event, context)


def uploaded_key(event: dict[str, Any]) -> str | None:
    """detail.object.key of an S3 `Object Created` event, or None when the event has none."""
    detail = event.get("detail")
    uploaded = detail.get("object") if isinstance(detail, dict) else None
    key = uploaded.get("key") if isinstance(uploaded, dict) else None
    return key if isinstance(key, str) and key else None


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def import_handler(event: dict[str, Any], context: LambdaContext, deps: ContactsDeps | None = None) -> dict[str, Any]:
    """EventBridge `Object Created` from the imports bucket: import the uploaded file, once per job."""
    key = uploaded_key(event)
    if key is None:
        reason = "an S3 Object Created event with detail.object.key is required"
        report_unparseable(logger, metrics, source="import-uploads", message_id=event.get("id"), reason=reason)
        return {"status": "ignored"}
    deps = deps or wiring.contacts_deps()
    job = deps.contacts.process_upload(key)
    if job is None:
        logger.info("Upload ignored: not an import we are waiting for", extra={"key": key})
        return {"status": "ignored"}
    logger.info("Import finished", extra={"job_id": job.job_id, "status": job.status.value})
    return {"jobId": job.job_id, "status": job.status.value}
