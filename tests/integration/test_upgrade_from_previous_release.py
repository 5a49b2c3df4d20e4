"""A tested upgrade path (issue 26, item 5): the previous release's tables, holding the data its own code wrote,
are upgraded as CloudFormation would (a table whose key changed is replaced and the old one retained, a new index
added to its table, new tables created), `smsctl migrate`'s steps run, and everything reads back through today's
routes: the old token, tags, contacts and their opt-outs, the campaign and its messages, the balance, and a new send
that skips the number that opted out under the old key design.

tests/upgrade/release_04d2536/ is a frozen copy of release 04d2536 (the last before issue 26): its table definitions
and what its code wrote (a tenant, a member and token, three contacts in two tags, a campaign of two messages sent
by the sandbox, a BAJA reply). tests/upgrade/generate_previous_release.py rebuilt it from that release's code;
the next key change freezes the release it upgrades from the same way (docs/operations.md, "Upgrading").
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from functions.contacts import app as contacts_app
from functions.messages import app as messages_app
from functions.send_by_tags import app as send_app
from smscore import wiring
from smscore.api.authorization import authorize
from smscore.dal.identity_store import DynamoIdentityStore
from smsdev import migrate as migrations
from smsdev.provision import create_buckets, create_queues, function_environment, seed_exclusion_snapshot
from smsdev.template import LocalNames, load_template, resources_of_type, table_create_kwargs
from smsdev.testing import LambdaContextStub, moto_account
from tests.conftest import api_event
from tests.integration.conftest import LocalEndpointStack, smsctl

PREVIOUS = Path(__file__).resolve().parents[1] / "upgrade" / "release_04d2536"
RETAINED = "-retained-by-cloudformation"  # where the replaced table's data stays (its own physical name)


def frozen(name: str) -> Any:
    return json.loads((PREVIOUS / name).read_text())


FACTS = frozen("facts.json")


def deploy_todays_template(dynamodb: Any, names: LocalNames) -> None:
    """What `sam deploy` of today's template does to the previous release's tables: creates the new tables, adds
    the new indexes (one per update, as CloudFormation must) and replaces a table whose key changed (a new table
    under the name the stack binds; the old one is retained: here it was created under RETAINED)."""
    for logical_id in resources_of_type("AWS::DynamoDB::Table"):
        wanted = table_create_kwargs(logical_id, names)
        try:
            existing = dynamodb.describe_table(TableName=wanted["TableName"])["Table"]
        except dynamodb.exceptions.ResourceNotFoundException:
            dynamodb.create_table(**wanted)
            continue
        assert existing["KeySchema"] == wanted["KeySchema"], logical_id
        have = {index["IndexName"] for index in existing.get("GlobalSecondaryIndexes", [])}
        for index in wanted.get("GlobalSecondaryIndexes", []):
            if index["IndexName"] not in have:
                dynamodb.update_table(
                    TableName=wanted["TableName"],
                    AttributeDefinitions=wanted["AttributeDefinitions"],
                    GlobalSecondaryIndexUpdates=[{"Create": index}],
                )


@pytest.fixture
def upgraded(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalNames]:
    """The previous release's stack with its data, then today's template deployed over it (before migrating)."""
    with moto_account():
        names = LocalNames(stack_name="sms-prod", endpoint="https://sqs.us-east-1.amazonaws.com")
        dynamodb = boto3.client("dynamodb", region_name=names.region)
        today = load_template()
        items = frozen("items.json")
        for logical_id, definition in frozen("tables.json").items():
            name = names.physical(logical_id)
            if definition["KeySchema"] != table_create_kwargs(logical_id, names, today)["KeySchema"]:
                name += RETAINED
            dynamodb.create_table(TableName=name, **definition)
            for item in items[logical_id]:
                dynamodb.put_item(TableName=name, Item=item)
        deploy_todays_template(dynamodb, names)
        create_queues(boto3.client("sqs", region_name=names.region), names)
        create_buckets(boto3.client("s3", region_name=names.region), names)
        seed_exclusion_snapshot(dynamodb, names)  # today's marketing to CO needs a current RNE snapshot
        for key, value in function_environment(names, "SendByTagsFunction").items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("SEND_WINDOWS", "off")
        wiring.reset()
        wiring.bound_settings()
        yield names
        wiring.reset()


def migrate(names: LocalNames, page_size: int = 500) -> list[dict[str, Any]]:
    """What `smsctl --stack sms-prod migrate` runs (smsdev.migrate), on this account."""
    dynamodb = boto3.client("dynamodb", region_name=names.region)
    tables = {
        k.lower(): v for k, v in function_environment(names, "SendByTagsFunction").items() if k.endswith("_TABLE")
    }
    context = migrations.MigrationContext(dynamodb, f"{names.stack_name}-", tables)
    return migrations.run(context, migrations.Checkpoints(dynamodb, tables["settings_table"]), page_size=page_size)


def call(app: Any, method: str, path: str, body: Any = None, *, resource: str | None = None, **params: str) -> Any:
    """A route of today's API as API Gateway calls it, as the previous release's member (its old token)."""
    event = api_event(body, tenant_id=FACTS["tenant_id"], member_id=FACTS["member_id"], token=FACTS["token"])
    event.update(httpMethod=method, path=path, resource=resource or path, pathParameters=params or None)
    event["requestContext"].update(httpMethod=method, resourcePath=resource or path)
    event["requestContext"]["authorizer"]["memberId"] = FACTS["member_id"]
    if body is None:
        event["body"] = None
    response = app.lambda_handler(event, LambdaContextStub())
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def use(names: LocalNames, function_id: str) -> None:
    for key, value in function_environment(names, function_id).items():
        os.environ[key] = value
    os.environ["SEND_WINDOWS"] = "off"
    wiring.reset()
    wiring.bound_settings()


def test_the_previous_release_reads_back_through_todays_routes_after_migrating(upgraded: LocalNames) -> None:
    # Given the previous release's data under today's template, and its opt-out still in the retained table
    names = upgraded
    # When the migration runs
    report = migrate(names)
    # Then its step copied the opt-out and the inbound replay marker from the retained, sender-keyed table
    (suppressions,) = [s for s in report if s["step"] == "2026-12-suppressions-keyed-by-number"]
    assert suppressions["status"] == "done"
    assert suppressions["source"] == names.physical("SuppressionsTable") + RETAINED
    assert (suppressions["items"], suppressions["copied"], suppressions["markers"]) == (2, 1, 1)
    # And the previous release's token still authorizes its member
    arn = "arn:aws:execute-api:us-east-1:123456789012:api/dev/POST/api/messages/sms/tags"
    policy = authorize(f"Bearer {FACTS['token']}", arn, DynamoIdentityStore())
    assert policy["context"]["tenantId"] == FACTS["tenant_id"]
    # And the tags, contacts and the opt-out read back through the contacts routes
    use(names, "ContactsFunction")
    status, tags = call(contacts_app, "GET", "/api/tags")
    assert status == 200, tags
    assert {t["name"]: t["id"] for t in tags["items"]} == FACTS["tags"]
    status, contacts = call(contacts_app, "GET", "/api/contacts")
    assert status == 200, contacts
    assert {c["name"]: c["optedOut"] for c in contacts["items"]} == {"Ana": False, "Beto": False, "Caro": True}
    status, credits = call(contacts_app, "GET", "/api/credits")
    assert (status, credits["balance"]) == (200, 500 - 2)
    # And the campaign and each of its messages through the status routes
    use(names, "MessagesFunction")
    queue_id = FACTS["queue_id"]
    status, queue = call(
        messages_app,
        "GET",
        f"/api/messages/queues/{queue_id}",
        resource="/api/messages/queues/{queueId}",
        queueId=queue_id,
    )
    assert status == 200, queue
    assert queue["counts"]["SENT"] == 2
    # (written before failures were counted by code: nothing settled, no failure, none uncounted; null, not 0 %)
    assert (queue["deliveryRate"], queue["failureReasons"], queue["failuresUncounted"]) == (None, {}, 0)
    for message in FACTS["messages"]:
        status, one = call(
            messages_app, "GET", f"/api/messages/{message['id']}", resource="/api/messages/{id}", id=message["id"]
        )
        assert (status, one["status"], one["recipient"]) == (200, "SENT", message["recipient"])
    # And a send to `clientes` through today's route reaches Ana and skips Caro, who replied BAJA before the upgrade
    use(names, "SendByTagsFunction")
    body = {"message": "Nueva oferta", "tagIds": [FACTS["tags"]["clientes"]], "purpose": "transactional"}
    status, sent = call(send_app, "POST", "/api/messages/sms/tags", body)
    assert status == 201, sent
    assert [m["recipient"] for m in sent["messages"]] == ["+573001112233"]


def test_migrating_again_or_after_an_interruption_changes_nothing(upgraded: LocalNames) -> None:
    # Given a migration interrupted after its first page (one item per page), its checkpoint saved
    names = upgraded
    dynamodb = boto3.client("dynamodb", region_name=names.region)
    settings = names.physical("SettingsTable")
    checkpoints = migrations.Checkpoints(dynamodb, settings)
    step_id = "2026-12-suppressions-keyed-by-number"

    class Interrupted(Exception):
        pass

    def stop_after_first_page(step: migrations.Step, items: int) -> None:
        raise Interrupted

    tables = {
        k.lower(): v for k, v in function_environment(names, "SendByTagsFunction").items() if k.endswith("_TABLE")
    }
    context = migrations.MigrationContext(dynamodb, f"{names.stack_name}-", tables)
    with pytest.raises(Interrupted):
        migrations.run(context, checkpoints, stop_after_first_page, page_size=1)
    saved = checkpoints.load(step_id)
    assert (saved.status, saved.counts["items"]) == ("RUNNING", 1)
    assert saved.cursor is not None
    # When it runs again, and once more after it finished
    resumed = migrate(names, page_size=1)
    again = migrate(names)
    # Then it resumed after the item it had done (2 items in all, each copied once), and then did nothing
    (first,) = [s for s in resumed if s["step"] == step_id]
    assert (first["status"], first["items"]) == ("done (resumed)", 2)
    assert first.get("copied", 0) + first.get("markers", 0) == 2
    (second,) = [s for s in again if s["step"] == step_id]
    assert second["status"] == "already done"
    new_table = names.physical("SuppressionsTable")
    assert dynamodb.scan(TableName=new_table, Select="COUNT")["Count"] == 2


def test_a_stack_that_never_had_the_old_table_has_nothing_to_migrate() -> None:
    # Given today's template deployed on an empty account
    with moto_account():
        names = LocalNames(stack_name="sms-new", endpoint="https://sqs.us-east-1.amazonaws.com")
        dynamodb = boto3.client("dynamodb", region_name=names.region)
        deploy_todays_template(dynamodb, names)
        # When the migration runs
        report = migrate(names)
    # Then every step is done without anything to read
    assert {s["status"] for s in report} == {"nothing to migrate"}


def test_smsctl_migrate_runs_the_steps_and_says_what_each_did(
    local: LocalEndpointStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the local stack, deployed from today's template (no retained table to copy from)
    # When an operator runs `smsctl migrate`, twice
    first = smsctl(capsys, "migrate")
    second = smsctl(capsys, "migrate")
    # Then each step is reported with its status, and the second run finds them done
    assert first.code == 0, first.err
    steps = {s["step"]: s["status"] for s in first.json["steps"]}
    assert steps == {"2026-12-suppressions-keyed-by-number": "nothing to migrate"}
    assert {s["status"] for s in second.json["steps"]} == {"already done"}
    assert first.json["target"].startswith("local stack at http://127.0.0.1:")
