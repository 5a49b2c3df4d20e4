"""Least privilege, read from the SAM-transformed template: what each function's role may really do.

A wildcard action, or a `*` in a resource, fails here unless it is on the allow-list below with the reason AWS
gives no narrower form. The ledger is append-only for every function, and nothing may Scan.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.unit.test_template import transformed

# (role, rendered resource) -> why this wildcard is the narrowest AWS allows.
ALLOWED_WILDCARD_RESOURCES: dict[tuple[str, str], str] = {
    **{
        ("DeliverFunctionRole", f"arn:${{AWS::Partition}}:sms-voice:${{AWS::Region}}:${{AWS::AccountId}}:{kind}/*"): (
            "SendTextMessage is authorised on the origination identity and configuration set it names; which ones "
            "a tenant uses is configuration, so the statement is scoped to this account's and region's resources"
        )
        for kind in ("phone-number", "pool", "sender-id", "configuration-set")
    },
    ("InboundSmsFunctionRole", "arn:${AWS::Partition}:sms-voice:${AWS::Region}:${AWS::AccountId}:phone-number/*"): (
        "a keyword's confirmation goes out from whichever of this account's numbers received the reply; the number "
        "is in the event, so the statement is scoped to this account's and region's phone numbers"
    ),
    ("ContactsFunctionRole", "${ImportsBucket.Arn}/uploads/*"): (
        "presigned uploads: the object key is generated per import, the prefix is the narrowest scope"
    ),
    ("AdminSitePublisherFunctionRole", "${AdminSiteBucket.Arn}/admin/*"): (
        "the publisher writes and deletes the admin site's files, whose names are the site's, under admin/ only"
    ),
    ("ContactsImportFunctionRole", "${ImportsBucket.Arn}/uploads/*"): (
        "the import function reads whichever upload its S3 event names, under the uploads/ prefix only"
    ),
    ("ExclusionsImportFunctionRole", "${ImportsBucket.Arn}/exclusions/*"): (
        "the RNE load reads whichever snapshot file its S3 event names, under the exclusions/ prefix only"
    ),
    ("IntegrationsFunctionRole", "${ImportsBucket.Arn}/exports/*"): (
        "presigned downloads of large exports: the key is generated per export job, under the exports/ prefix only"
    ),
    ("ExportFunctionRole", "${ImportsBucket.Arn}/exports/*"): (
        "the export function writes the file of whichever job its queue message names, under exports/ only"
    ),
}

# Managed policies SAM attaches to every function role it generates, and why they stay.
ALLOWED_MANAGED_POLICIES: dict[str, str] = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": "CloudWatch Logs for the function (SAM)",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": "X-Ray has no resource-level permissions (Tracing: Active)",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole": "the SQS event source mapping (SAM)",
    "arn:aws:iam::aws:policy/service-role/AWSCodeDeployRoleForLambda": (
        "CodeDeploy's role for safe deploys (SAM's DeploymentPreference): move aliases, read the rollback alarms"
    ),
    "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs": (
        "API Gateway's account-wide role for writing the API's access logs (ApiGatewayAccount)"
    ),
}
# Roles that belong to no function: the policies above are all they have.
NOT_FUNCTION_ROLES = {"CodeDeployServiceRole", "ApiGatewayCloudWatchRole"}


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the SAM transform needs one


LEDGER_ACTIONS = frozenset({"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem"})


def render(resource: Any) -> str:
    """A resource as text, intrinsics kept symbolic: {"Fn::GetAtt": ["T", "Arn"]} -> "${T.Arn}"."""
    if isinstance(resource, str):
        return resource
    if "Fn::GetAtt" in resource:
        return "${" + ".".join(resource["Fn::GetAtt"]) + "}"
    if "Ref" in resource:
        return "${" + resource["Ref"] + "}"
    if "Fn::Sub" in resource:
        sub = resource["Fn::Sub"]
        return str(sub if isinstance(sub, str) else sub[0])
    if "Fn::Join" in resource:
        separator, parts = resource["Fn::Join"]
        return str(separator).join(render(part) for part in parts)
    raise AssertionError(f"unexpected resource form {resource}")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Grant:
    role: str
    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]


def grants() -> Iterator[Grant]:
    for name, resource in transformed()["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                assert statement["Effect"] == "Allow"
                yield Grant(
                    role=name,
                    sid=statement.get("Sid", policy["PolicyName"]),
                    actions=tuple(as_list(statement["Action"])),
                    resources=tuple(render(r) for r in as_list(statement["Resource"])),
                )


def roles() -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in transformed()["Resources"].items() if v["Type"] == "AWS::IAM::Role"}


def test_every_function_role_has_explicit_statements() -> None:
    granted_roles = {grant.role for grant in grants()}
    assert set(roles()) - NOT_FUNCTION_ROLES == granted_roles


def test_no_action_is_a_wildcard() -> None:
    wildcards = [(g.role, g.sid, a) for g in grants() for a in g.actions if "*" in a]
    assert wildcards == []


def test_every_wildcard_resource_is_allowed_with_a_reason() -> None:
    unexplained = [
        (g.role, g.sid, r)
        for g in grants()
        for r in g.resources
        if "*" in r and (g.role, r) not in ALLOWED_WILDCARD_RESOURCES
    ]
    assert unexplained == []


def test_the_allow_list_has_no_stale_entries() -> None:
    used = {(g.role, r) for g in grants() for r in g.resources}
    assert set(ALLOWED_WILDCARD_RESOURCES) <= used


def test_only_the_managed_policies_sam_attaches() -> None:
    for name, props in roles().items():
        extra = set(props.get("ManagedPolicyArns", [])) - set(ALLOWED_MANAGED_POLICIES)
        assert not extra, f"{name} has managed policies {extra}"


def test_the_ledger_is_append_only_for_every_function() -> None:
    on_ledger = [g for g in grants() if any(r.startswith("${LedgerTable.") for r in g.resources)]
    assert on_ledger, "the send and deliver functions write ledger entries"
    for grant in on_ledger:
        assert set(grant.actions) <= LEDGER_ACTIONS, f"{grant.role}/{grant.sid} may {grant.actions} on the ledger"


def test_nothing_may_scan() -> None:
    assert [(g.role, g.sid) for g in grants() if "dynamodb:Scan" in g.actions] == []


@pytest.mark.parametrize(
    ("role", "table", "forbidden"),
    [
        ("SendByTagsFunctionRole", "TenantsTable", {"dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}),
        ("DeliverFunctionRole", "TenantsTable", {"dynamodb:DeleteItem", "dynamodb:PutItem"}),
        ("ReceiptsFunctionRole", "MessagesTable", {"dynamodb:PutItem", "dynamodb:DeleteItem"}),
        ("ReceiptsFunctionRole", "DispatchesTable", {"dynamodb:PutItem", "dynamodb:DeleteItem"}),
        # UpdateItem only: an API key's last use, to the hour (smscore.dal.identity_store.mark_used)
        ("AuthorizerFunctionRole", "TokensTable", {"dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query"}),
        ("AuthorizerFunctionRole", "MembersTable", {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"}),
    ],
)
def test_roles_cannot_do_what_their_function_never_does(role: str, table: str, forbidden: set[str]) -> None:
    allowed = {a for g in grants() if g.role == role and f"${{{table}.Arn}}" in g.resources for a in g.actions}
    assert allowed, f"{role} has no grant on {table}"
    assert not allowed & forbidden


@pytest.mark.parametrize(
    "role",
    [
        # contact.opted_out / opted_in: keyword replies (AWS two-way SMS, Twilio's inbound webhook), the opt-out
        # link page, the contacts API
        "InboundSmsFunctionRole",
        "TwilioStatusFunctionRole",
        "OptOutLinkFunctionRole",
        "ContactsFunctionRole",
        # message.*, message.clicked, credits.low
        "DeliverFunctionRole",
        "ReceiptsFunctionRole",
        "LinksFunctionRole",
        "SendByTagsFunctionRole",
    ],
)
def test_every_function_that_emits_webhook_events_may_read_subscriptions_and_queue_them(role: str) -> None:
    # Given what the role may do / Then it may read which event types a tenant's endpoints want (Query only) and
    # send to the webhook queue: an emitted event is never lost to an AccessDenied
    mine = [g for g in grants() if g.role == role]
    assert any("${WebhooksTable.Arn}" in g.resources and "dynamodb:Query" in g.actions for g in mine)
    assert any("${WebhookQueue.Arn}" in g.resources and "sqs:SendMessage" in g.actions for g in mine)
