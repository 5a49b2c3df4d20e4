"""Contact files as Excel in Spanish saves them (tests/fixtures/excel), through the API and smsctl (moto).

Given/When/Then: the Windows-1252 file separated by `;` with the Spanish header "Teléfono;Nombre;Etiquetas" is
imported with its accents (no second, garbled tag), the rejected row is reported with its content, and a
workbook renamed .csv is refused whole with the reason, writing nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Stack
from tests.integration.conftest import Campaign, LocalEndpointStack, ok, smsctl
from tests.integration.test_contacts_api import Client
from tests.integration.test_literal_input import stored_phones, stored_tag_names, upload

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "excel"
WINDOWS_1252 = FIXTURES / "clientes-excel-windows1252.csv"
EXPECTED_NAMES = {
    "+573152223344": "Andrés Muñoz",
    "+573005550101": "María José Peña",
    "+573187776655": "Iñaki Gómez",
}


@pytest.fixture
def client(contacts_stack: Stack, campaign: Campaign) -> Client:
    return Client(campaign)


def names_by_phone(client: Client) -> dict[str, str]:
    page = client.call("GET", "/api/contacts", query={"limit": "100"})
    assert page.status == 200, page.body
    return {c["phone"]: c["name"] for c in page.body["items"]}


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.iterdir() if p.name.startswith("clientes-")))
def test_an_excel_file_posted_as_is_keeps_its_accents_and_reports_the_rejected_row(client: Client, name: str) -> None:
    # When the file's bytes are posted as the admin posts them (text/csv, untouched)
    reply = client.import_csv((FIXTURES / name).read_bytes())

    # Then 3 contacts are created with their accents, and the tags are the real names, once each
    assert reply.status == 201, reply.body
    assert (reply.body["created"], reply.body["rejected"]) == (3, 1)
    assert names_by_phone(client) == EXPECTED_NAMES
    assert stored_tag_names(client.campaign) == ["Clientes sábado", "Ofertas €", "VIP"]
    tags = client.tags()
    assert tags["Clientes sábado"]["contactCount"] == 2
    # And the rejected row says where, what it held and why
    separator = "\t" if name.endswith(".txt") else ";"
    assert reply.body["rejectedRows"] == [
        {
            "line": 4,
            "reason": "phone is not a valid number in CO",
            "content": separator.join(["12345", "Número malo", "Clientes sábado"]),
            "code": "PHONE_INVALID",
        }
    ]


def test_the_windows_1252_file_uploaded_imports_alike(client: Client, contacts_stack: Stack) -> None:
    job = upload(client, contacts_stack, WINDOWS_1252.read_bytes())

    assert (job["status"], job["created"], job["rejected"]) == ("COMPLETED", 3, 1)
    assert job["rejectedRows"][0]["content"] == "12345;Número malo;Clientes sábado"
    assert names_by_phone(client) == EXPECTED_NAMES


def test_a_workbook_renamed_csv_is_refused_whole_with_the_reason(client: Client, contacts_stack: Stack) -> None:
    data = (FIXTURES / "libro-renombrado.csv").read_bytes()

    reply = client.import_csv(data)
    job = upload(client, contacts_stack, data)

    assert (reply.status, reply.body["code"], reply.body["problem"]) == (400, "VALIDATION_ERROR", "NOT_TEXT")
    assert "is it a workbook (.xlsx) renamed .csv?" in reply.body["message"]
    assert (job["status"], job["errorCode"], job["imported"]) == ("FAILED", "NOT_TEXT", 0)
    assert (stored_phones(client.campaign), stored_tag_names(client.campaign)) == ([], [])


def test_smsctl_imports_the_excel_file_with_its_accents(
    local: LocalEndpointStack, capsys: pytest.CaptureFixture[str]
) -> None:
    tenant_id = ok(capsys, "tenant", "create", "--name", "Tienda", "--credits", "0", "--country", "CO")["tenantId"]

    report = ok(capsys, "contacts", "import", "--tenant", tenant_id, str(WINDOWS_1252))

    assert (report["imported"], report["rejected"]) == (3, 1)
    assert report["rejectedRows"][0]["content"] == "12345;Número malo;Clientes sábado"
    assert sorted(t["name"] for t in report["tags"]) == ["Clientes sábado", "Ofertas €", "VIP"]
    refused = smsctl(capsys, "contacts", "import", "--tenant", tenant_id, str(FIXTURES / "libro-renombrado.csv"))
    assert refused.code == 1
    assert "is it a workbook (.xlsx) renamed .csv?" in refused.err
