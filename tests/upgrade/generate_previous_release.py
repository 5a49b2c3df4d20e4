"""Rebuild tests/upgrade/release_<commit>/ from a previous release's OWN code (not collected by pytest).

The upgrade test (tests/integration/test_upgrade_from_previous_release.py) needs the tables of the release it
upgrades from and data that release's code wrote. This script is run once per key change, with that release's
code first on the path, and its output committed, so the test never needs git history:

    git worktree add --detach /tmp/prev <commit>
    cd /tmp/prev && PYTHONPATH=/tmp/prev/layers/common:/tmp/prev/tools:/tmp/prev \
        <this repo>/.venv/bin/python <this repo>/tests/upgrade/generate_previous_release.py \
        <this repo>/tests/upgrade/release_<commit>

It writes tables.json (each table's CreateTable arguments in that release's template), items.json (every item,
DynamoDB wire format) and facts.json (the ids and token the test reads back). Written against release 04d2536's
helpers; a later release may need its imports adjusted.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any


def main(out: Path) -> None:
    import boto3

    from functions.deliver import app as deliver_app
    from functions.inbound import app as inbound_app
    from functions.send_by_tags import app as send_app
    from smscore import wiring
    from smsdev.admin_store import ContactInput, DynamoAdminStore
    from smsdev.provision import function_environment
    from smsdev.template import load_template, resources_of_type, table_create_kwargs
    from smsdev.testing import LambdaContextStub, moto_stack
    from tests.conftest import api_event, load_event

    def use(function_id: str, names: Any) -> None:
        os.environ.update(function_environment(names, function_id))
        wiring.reset()
        wiring.bound_settings()

    with moto_stack("prev") as stack:
        wiring.reset()
        wiring.bound_settings()
        admin = DynamoAdminStore(region=stack.names.region)
        tenant_id = admin.create_tenant("Tienda Previa", credits=500, default_country="CO")
        member = admin.create_member(tenant_id, "owner@previa.test", accept_terms=True)
        token = member.token.token
        admin.add_contacts(
            tenant_id,
            [
                ContactInput(phone="3001112233", name="Ana", tag_names=["vip", "clientes"]),
                ContactInput(phone="3004445566", name="Beto", tag_names=["vip"]),
                ContactInput(phone="3007778899", name="Caro", tag_names=["clientes"]),
            ],
        )
        tags = {t.name: t.tag_id for t in admin.tags(tenant_id)}
        # A campaign to vip (Ana, Beto) through the send route, delivered by the sandbox
        event = api_event(
            {"message": "Oferta VIP 30%", "tagIds": [tags["vip"]], "purpose": "transactional"},
            tenant_id=tenant_id,
            member_id=member.member_id,
            token=token,
        )
        event["requestContext"]["authorizer"]["memberId"] = member.member_id
        response = send_app.lambda_handler(event, LambdaContextStub())
        assert response["statusCode"] == 201, response
        body = json.loads(response["body"])
        use("DeliverFunction", stack.names)
        template_record = load_event("sqs_delivery_batch.json")["Records"][0]
        records = []
        for batch in stack.drain_delivery_queue():
            record = copy.deepcopy(template_record)
            record["messageId"], record["body"] = str(uuid.uuid4()), json.dumps(batch)
            records.append(record)
        deliver_app.lambda_handler({"Records": records}, LambdaContextStub(remaining_ms=55000))
        # Caro replies BAJA to the sandbox's number (AWS two-way SMS): the old, sender-keyed suppression
        use("InboundSmsFunction", stack.names)
        reply = copy.deepcopy(load_event("sns_two_way_sms.json"))
        sns = reply["Records"][0]["Sns"]
        payload = json.loads(sns["Message"]) | {
            "messageBody": "BAJA",
            "originationNumber": "+573007778899",
            "destinationNumber": "+15005550006",
            "inboundMessageId": "in-1",
        }
        sns["Message"], sns["MessageId"] = json.dumps(payload), "sns-in-1"
        inbound_app.lambda_handler(reply, LambdaContextStub())
        # Everything it wrote, with its tables' definitions
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        template = load_template()
        tables, items = {}, {}
        for logical_id in resources_of_type("AWS::DynamoDB::Table", template):
            kwargs = table_create_kwargs(logical_id, stack.names, template)
            name = kwargs.pop("TableName")
            tables[logical_id] = kwargs
            pages = dynamodb.get_paginator("scan").paginate(TableName=name)
            items[logical_id] = sorted((i for page in pages for i in page["Items"]), key=json.dumps)
        facts = {
            "tenant_id": tenant_id,
            "member_id": member.member_id,
            "token": token,
            "tags": tags,
            "queue_id": body["queueId"],
            "messages": body["messages"],
        }
    out.mkdir(parents=True, exist_ok=True)
    for name, data in (("tables.json", tables), ("items.json", items), ("facts.json", facts)):
        (out / name).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
