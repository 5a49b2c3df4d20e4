"""`smsctl contacts import` records the consent columns as the API's import does (issue 22, item 6): consent,
consent_source, consent_at, consent_evidence; each record in the contact and its history; a bad one rejects the row."""

from __future__ import annotations

from pathlib import Path

import pytest

from smscore.dal.contact_store import DynamoContactStore
from smscore.dal.tables import ContactRecord
from smscore.domain.consent_records import ConsentOrigin, ConsentStatus
from tests.integration.conftest import LocalEndpointStack, ok


def test_smsctl_import_records_the_consent_columns_and_rejects_a_bad_consent_row(
    local: LocalEndpointStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given a tenant in Colombia and a file with the consent columns
    tenant_id = ok(capsys, "tenant", "create", "--name", "Acme", "--credits", "10", "--country", "CO")["tenantId"]
    csv_file = tmp_path / "consent.csv"
    csv_file.write_text(
        "phone,name,tags,consent,consent_source,consent_at,consent_evidence\n"
        "3001234567,Ana,vip,granted,,2026-11-02T10:00:00-05:00,Formulario web 2026-11-02\n"  # line 2
        "3007654321,Luis,vip,revoked,ui,,Llamada\n"  # line 3
        "3001112233,Caro,vip,,,,\n"  # line 4: no consent given: none recorded
        "3004445566,Beto,vip,maybe,,,\n",  # line 5: not a consent status: rejected
        encoding="utf-8",
    )

    # When it is imported with smsctl
    report = ok(capsys, "contacts", "import", "--tenant", tenant_id, str(csv_file))

    # Then the rows with a good consent (or none) are imported, and the bad one is rejected naming the column
    assert (report["imported"], report["rejected"]) == (3, 1)
    [rejected] = report["rejectedRows"]
    assert rejected["line"] == 5
    assert rejected["reason"].startswith("consent.status")

    # And each record is on its contact and in its history, with the file's source, time and evidence
    store = DynamoContactStore(region=local.names.region, host=local.endpoint)
    by_phone = {r.e164: r.contact_id for r in ContactRecord.query(tenant_id)}
    [ana] = store.consent_history(tenant_id, by_phone["+573001234567"])
    assert (ana.status, ana.source, ana.evidence) == (
        ConsentStatus.GRANTED,
        ConsentOrigin.IMPORT,
        "Formulario web 2026-11-02",
    )
    assert ana.at.isoformat() == "2026-11-02T15:00:00+00:00"
    [luis] = store.consent_history(tenant_id, by_phone["+573007654321"])
    assert (luis.status, luis.source, luis.evidence) == (ConsentStatus.REVOKED, ConsentOrigin.UI, "Llamada")
    assert store.consent_history(tenant_id, by_phone["+573001112233"]) == []
    contact = store.get_contact(tenant_id, by_phone["+573001234567"])
    assert contact is not None
    assert contact.marketing_consent == ana

    # When the same file is imported again, Then no history item is added (the same records)
    ok(capsys, "contacts", "import", "--tenant", tenant_id, str(csv_file))
    assert len(store.consent_history(tenant_id, by_phone["+573001234567"])) == 1
