"""A STOP reply as proof in the consent history (issue 22, item 6), on moto through the real Twilio webhook: the
tenants sending through the sender the reply reached get a revoked consent record (source keyword) on their contact
with the number; other tenants, replays and opt-ins add nothing."""

from __future__ import annotations

from typing import Any

import pytest

from smscore.dal.contact_store import DynamoContactStore
from smscore.domain.consent_records import ConsentOrigin, ConsentStatus
from tests.integration.conftest import make_campaign
from tests.integration.test_opt_outs import (  # noqa: F401 - inbound_env is a fixture
    ANA,
    TWILIO_NUMBER,
    inbound_env,
    post,
    sends_through,
    shown,
    twilio_reply,
)


@pytest.mark.usefixtures("inbound_env")
def test_a_stop_appends_a_revoked_keyword_record_for_the_tenants_of_that_sender_once(admin: Any) -> None:
    # Given tenant A sends through Twilio and tenant B through the sandbox, both with Ana as a contact
    tenant_a, tenant_b = make_campaign(admin), make_campaign(admin)
    sends_through(tenant_a, "twilio")
    contact_a, contact_b = tenant_a.add(ANA, "vip"), tenant_b.add(ANA, "vip")
    store = DynamoContactStore(region="us-east-1")

    # When she replies STOP to the Twilio number, and Twilio posts the same request again
    reply = twilio_reply("STOP")
    assert post(reply)[0] == 200
    assert post(reply)[0] == 200

    # Then A's contact carries the revocation as its latest consent record, with one history item saying why
    [record] = store.consent_history(tenant_a.tenant_id, contact_a)
    assert (record.status, record.source) == (ConsentStatus.REVOKED, ConsentOrigin.KEYWORD)
    assert record.evidence == f'Replied "STOP" to sender twilio:{TWILIO_NUMBER}'
    assert shown(tenant_a, contact_a)["marketingConsent"]["status"] == "revoked"
    assert shown(tenant_a, contact_a)["marketingConsent"]["source"] == "keyword"
    # And B's contact (another sender) is untouched
    assert store.consent_history(tenant_b.tenant_id, contact_b) == []
    assert shown(tenant_b, contact_b).get("marketingConsent") is None

    # When she replies START later, Then no consent is recorded for her (an opt-in keyword is not express consent)
    assert post(twilio_reply("START", sid="SM00000000000000000000000000000002"))[0] == 200
    assert len(store.consent_history(tenant_a.tenant_id, contact_a)) == 1
