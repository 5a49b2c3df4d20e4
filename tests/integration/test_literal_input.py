"""Input taken as it was written, through the real handlers on moto (issue 19, items 4-7): phone numbers with
letters or an extension are refused, never dialled as other digits; names cannot spoof; one UTF-8 rule for bodies
and uploads; CSV files read by the csv module, with rows numbered as a spreadsheet shows them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from functions.contacts import app as contacts_app
from smscore.dal import import_uploads
from smscore.dal.tables import ContactRecord, TagRecord, UniqueKeyRecord
from smsdev.admin_store import ContactInput, DynamoAdminStore
from tests.conftest import LambdaContextStub, Stack
from tests.integration.conftest import Campaign, LocalEndpointStack, ok, smsctl
from tests.integration.test_contacts_api import Client, land_upload
from tests.integration.test_preview_and_resend import preview


@pytest.fixture
def client(contacts_stack: Stack, campaign: Campaign) -> Client:
    return Client(campaign)


def stored_phones(campaign: Campaign) -> list[str]:
    return sorted(r.e164 or r.phone for r in ContactRecord.query(campaign.tenant_id))


def stored_tag_names(campaign: Campaign) -> list[str]:
    return sorted(t.name for t in TagRecord.query(campaign.tenant_id))


def line_and_reason(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rejected rows without their content and code (tests/integration/test_contacts_excel.py checks those)."""
    return [{"line": row["line"], "reason": row["reason"]} for row in rows]


def upload(client: Client, stack: Stack, data: bytes) -> dict[str, Any]:
    """An upload started over the API, its file landed in the bucket and imported: the job as the API shows it."""
    started = client.call("POST", "/api/contacts/imports/uploads")
    assert started.status == 201, started.body
    job_id = started.body["job"]["id"]
    contacts_app.import_handler(land_upload(client, stack, job_id, data), LambdaContextStub())
    job: dict[str, Any] = client.item("GET", "/api/contacts/imports", job_id).body
    return job


# ---------------------------------------------------------------------------------------------- 4. phone numbers


class TestPhoneNumbersAreTakenLiterally:
    @pytest.mark.parametrize(
        ("phone", "message"),
        [
            ("300ABC4567", "letters are not allowed in a phone number ('A' at position 4)"),
            (
                "+57 300 123 4575 ext 12",
                "extensions are not allowed in a phone number ('ext 12'): an SMS cannot reach one",
            ),
        ],
    )
    def test_the_api_refuses_letters_and_extensions_and_writes_nothing(
        self, client: Client, phone: str, message: str
    ) -> None:
        # When a vanity number (phonenumbers: +573002224567, a stranger) or one with an extension is written
        for method in ("POST", "PUT"):
            reply = client.call(method, "/api/contacts", {"phone": phone, "name": "Ana"})

            # Then it is refused as written, naming the field
            assert (reply.status, reply.body["code"]) == (400, "VALIDATION_ERROR"), reply.body
            assert reply.body["details"] == [{"field": "phone", "message": message}]
        assert client.call("GET", "/api/contacts", query={"phone": phone}).body["details"][0]["message"] == message
        # And no contact exists, under either number
        assert stored_phones(client.campaign) == []

    def test_unicode_digits_are_read_by_their_digit_value(self, client: Client) -> None:
        # Given a number typed with Arabic-Indic digits
        arabic = "\u0663\u0660\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667"
        created = client.call("POST", "/api/contacts", {"phone": arabic, "name": "Ana"})
        assert created.status == 201, created.body
        assert created.body["phone"] == "+573001234567"

        # When the same number comes in full-width digits, Then it is the same contact
        full_width = "\uff13\uff10\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17"
        merged = client.call("PUT", "/api/contacts", {"phone": full_width})
        assert (merged.status, merged.body["id"]) == (200, created.body["id"])

    def test_the_csv_import_rejects_them_with_their_row(self, client: Client) -> None:
        job = client.import_csv(
            "phone,name,tags\n300ABC4567,Ana,vip\n+57 300 123 4575 ext 12,Luis,vip\n3001234567,Caro,vip\n"
        ).body

        assert (job["imported"], job["rejected"]) == (1, 2)
        assert line_and_reason(job["rejectedRows"]) == [
            {"line": 2, "reason": "letters are not allowed in a phone number ('A' at position 4)"},
            {"line": 3, "reason": "extensions are not allowed in a phone number ('ext 12'): an SMS cannot reach one"},
        ]
        assert stored_phones(client.campaign) == ["+573001234567"]

    def test_a_stored_number_with_letters_is_skipped_at_send_not_converted(
        self, stack: Stack, campaign: Campaign
    ) -> None:
        # Given a contact written before the rule, its number kept as typed (seed, older imports)
        campaign.add("300ABC4567", "vip", name="Vanity")
        campaign.add("3001234567", "vip", name="Ana")

        # When a campaign to the tag is priced
        status, priced = preview(campaign, {"message": "Hola", "tagIds": [campaign.tags["vip"]]})

        # Then the vanity number is skipped as invalid, never read as +573002224567
        assert (status, priced["recipients"], priced["skippedInvalid"]) == (200, 1, 1), priced


# ---------------------------------------------------------------------------------------------- 5. names

PROBE_NAMES = [
    pytest.param("\u200b", "U+200B", 1, id="zero-width space"),
    pytest.param("vi\u200bp", "U+200B", 3, id="vi-zwsp-p"),
    pytest.param("abc\u202egnp.exe", "U+202E", 4, id="right-to-left override"),
    pytest.param("vip\x00", "U+0000", 4, id="NUL"),
    pytest.param("v\x07ip", "U+0007", 2, id="BEL"),
    pytest.param("vip\uffff", "U+FFFF", 4, id="U+FFFF"),
    pytest.param("vip\n", "U+000A", 4, id="newline"),
]


def assert_invalid_character(reply: Any, code_point: str, position: int) -> None:
    assert (reply.status, reply.body["code"]) == (400, "INVALID_CHARACTER"), reply.body
    assert (reply.body["codePoint"], reply.body["position"]) == (code_point, position)
    (detail,) = reply.body["details"]
    assert detail["field"] == "name"
    assert f"({code_point}) at position {position}" in detail["message"]


class TestNamesCannotSpoof:
    @pytest.mark.parametrize(("name", "code_point", "position"), PROBE_NAMES)
    def test_tag_names_are_refused_with_the_character_and_its_position(
        self, client: Client, name: str, code_point: str, position: int
    ) -> None:
        vip = client.create_tag("vip")

        assert_invalid_character(client.call("POST", "/api/tags", {"name": name}), code_point, position)
        assert_invalid_character(client.item("PATCH", "/api/tags", vip, {"name": name}), code_point, position)
        assert stored_tag_names(client.campaign) == ["vip"]

    @pytest.mark.parametrize(("name", "code_point", "position"), PROBE_NAMES)
    def test_contact_names_are_refused_alike(self, client: Client, name: str, code_point: str, position: int) -> None:
        ana = client.create_contact("3001234567", name="Ana")

        for method in ("POST", "PUT"):
            reply = client.call(method, "/api/contacts", {"phone": "3105550101", "name": name})
            assert_invalid_character(reply, code_point, position)
        assert_invalid_character(client.item("PATCH", "/api/contacts", ana["id"], {"name": name}), code_point, position)
        assert [(r.phone, r.name) for r in ContactRecord.query(client.campaign.tenant_id)] == [("+573001234567", "Ana")]

    def test_the_probes_message_reads_as_documented(self, client: Client) -> None:
        reply = client.call("POST", "/api/tags", {"name": "vi\u200bp"})
        assert reply.body["message"] == (
            "Invalid request: name: name contains an invisible or control character (U+200B) at position 3"
        )

    def test_a_full_width_or_other_spelling_of_a_name_is_the_same_tag(self, client: Client) -> None:
        vip = client.create_tag("vip")

        for spelling in ("\uff36\uff29\uff30", "\uff56\uff49\uff50", " VIP "):
            reply = client.call("POST", "/api/tags", {"name": spelling})
            assert (reply.status, reply.body["code"], reply.body["tagId"]) == (409, "TAG_EXISTS", vip), spelling
        assert stored_tag_names(client.campaign) == ["vip"]

    def test_csv_tags_and_names_go_through_the_apis_cleaning(self, client: Client) -> None:
        # Given the tag vip, then a file with a tag holding a newline, one holding a zero-width space, a
        # full-width VIP and a name with a right-to-left override
        vip = client.create_tag("vip")
        job = client.import_csv(
            "phone,name,tags\n"
            '3001234567,Ana,"vip\nnews"\n'
            "3105550101,Luis,news;vi\u200bp\n"
            "3205550202,Caro,\uff36\uff29\uff30\n"
            "3115550303,abc\u202egnp.exe,vip\n"
        ).body

        # Then each refused cell rejects its row with the API's message; the full-width tag is vip
        assert line_and_reason(job["rejectedRows"]) == [
            {"line": 2, "reason": "tags contains an invisible or control character (U+000A) at position 4"},
            {"line": 3, "reason": "tags contains an invisible or control character (U+200B) at position 8"},
            {"line": 5, "reason": "name contains an invisible or control character (U+202E) at position 4"},
        ]
        assert stored_tag_names(client.campaign) == ["vip"]
        (caro,) = client.all_contacts(phone="3205550202")
        assert caro["tagIds"] == [vip]


def legacy_tag(tenant_id: str, name: str) -> str:
    """A tag as written before the name rules: any characters, its key strip().casefold(), guarded by that key."""
    tag_id, key = str(uuid.uuid4()), name.strip().casefold()
    TagRecord(tenant_id, tag_id, name=name, name_key=key, contact_count=0, created_at=datetime.now(UTC)).save()
    UniqueKeyRecord(UniqueKeyRecord.tag_name(tenant_id, key), owner_id=tag_id, tenant_id=tenant_id).save()
    return tag_id


class TestSmsctlNamesCheck:
    def test_reports_stored_names_and_fixes_what_is_safe(
        self, local: LocalEndpointStack, capsys: pytest.CaptureFixture[str]
    ) -> None:
        # Given names stored before the rules, and a contact name with a BEL
        tenant_id = ok(capsys, "tenant", "create", "--name", "Acme", "--credits", "0", "--country", "CO")["tenantId"]
        for name in ("vip", "news", "vi\u200bp", "\u200b", "abc\u202egnp.exe", "\uff36\uff29\uff30", "Cafe\u0301s"):
            legacy_tag(tenant_id, name)
        admin = DynamoAdminStore(region="us-east-1", host=local.endpoint)
        contact = admin.add_contacts(tenant_id, [ContactInput(phone="3001234567", name="Ana\x07", tag_names=[])])[0]

        # When the names are checked
        report = ok(capsys, "names", "check", "--tenant", tenant_id)

        # Then every finding is listed, and nothing changed
        found = {f["name"]: f for f in report["findings"]}
        assert set(found) == {
            "vi\u200bp",
            "vip",
            "\u200b",
            "abc\u202egnp.exe",
            "\uff36\uff29\uff30",
            "Cafe\u0301s",
            "Ana\x07",
        }
        assert found["vi\u200bp"]["status"] == found["vip"]["status"] == "needs a person"  # vip twice once fixed
        assert found["\u200b"]["status"] == "needs a person"  # nothing visible would remain
        assert "one with" in found["\uff36\uff29\uff30"]["problem"]  # VIP and vip are one name now
        assert (found["abc\u202egnp.exe"]["status"], found["abc\u202egnp.exe"]["fix"]) == ("fixable", "abcgnp.exe")
        assert (found["Cafe\u0301s"]["status"], found["Cafe\u0301s"]["fix"]) == ("fixable", "Cafe\u0301s")  # key only
        assert (found["Ana\x07"]["status"], found["Ana\x07"]["fix"]) == ("fixable", "Ana")
        assert (report["fixable"], report["needsAPerson"], report["fixed"]) == (3, 4, 0)
        assert {"Cafe\u0301s", "abc\u202egnp.exe"} <= {t.name for t in TagRecord.query(tenant_id)}

        # When the safe fixes are applied
        fixed = ok(capsys, "names", "check", "--tenant", tenant_id, "--fix")

        # Then they are done through the API's store (name and key guard together), the rest still reported
        assert (fixed["fixed"], fixed["needsAPerson"]) == (3, 4)
        names = {t.name: t.name_key for t in TagRecord.query(tenant_id)}
        assert names["abcgnp.exe"] == "abcgnp.exe"
        assert names["Cafe\u0301s"] == "cafés"  # the NFKC key: "Cafés" typed precomposed is now the same tag
        assert ContactRecord.get(tenant_id, contact).name == "Ana"
        again = ok(capsys, "names", "check", "--tenant", tenant_id)
        assert (again["fixable"], again["needsAPerson"]) == (0, 4)


# ---------------------------------------------------------------------------------------------- 6. UTF-8


class TestOneUtf8Rule:
    def test_a_body_as_api_gateway_passes_latin1_is_400_naming_the_byte_offset(self, client: Client) -> None:
        # Given `Mar\xeda` sent as Latin-1: API Gateway hands the function the text `Mar\ufffda`
        body = '{"phone": "3001234567", "name": "Mar\ufffda"}'

        reply = client.call("POST", "/api/contacts", body)

        # Then it is refused at the byte where the text stopped being UTF-8, and nothing is stored
        assert (reply.status, reply.body["code"], reply.body["byteOffset"]) == (400, "VALIDATION_ERROR", 36)
        assert reply.body["message"] == (
            "The request body is not valid UTF-8: U+FFFD (the replacement character, which stands for bytes that "
            "could not be read) is at byte offset 36"
        )
        assert stored_phones(client.campaign) == []

    def test_a_base64_body_with_a_latin1_byte_is_400_naming_the_byte(self, client: Client) -> None:
        reply = client.call("POST", "/api/tags", b'{"name": "Mar\xeda"}')

        assert (reply.status, reply.body["byteOffset"]) == (400, 13)
        assert reply.body["details"] == [
            {"field": "body", "message": "not valid UTF-8: the byte 0xED at byte offset 13 cannot be read"}
        ]
        assert stored_tag_names(client.campaign) == []

    # A contact file is not a JSON body: it is read in the encoding it was saved in (issue 23: Excel in Spanish
    # saves Windows-1252), so a Latin-1 byte is an accent, not an error; what no encoding fits is refused whole.
    def test_a_csv_body_in_windows_1252_keeps_its_accents(self, client: Client) -> None:
        reply = client.import_csv(b"phone,name,tags\n3001234567,Ana,vip\n3105550101,Mar\xeda,vip\n")

        assert (reply.status, reply.body["imported"]) == (201, 2)
        assert sorted(stored_phones(client.campaign)) == ["+573001234567", "+573105550101"]

    def test_a_csv_body_that_is_no_text_is_400_with_the_problem_and_writes_nothing(self, client: Client) -> None:
        reply = client.import_csv(
            b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xb5U0#\xf4\x00\x00\x00L\x02\x00\x00"
        )

        assert (reply.status, reply.body["code"], reply.body["problem"]) == (400, "VALIDATION_ERROR", "NOT_TEXT")
        assert "is it a workbook (.xlsx) renamed .csv?" in reply.body["message"]
        assert (stored_phones(client.campaign), stored_tag_names(client.campaign)) == ([], [])

    def test_an_upload_whose_bytes_its_encoding_cannot_read_fails_with_its_line_in_a_sentence(
        self, client: Client, contacts_stack: Stack
    ) -> None:
        # Given a UTF-8 file holding U+FFFD on row 3: what a tool left where it could not read bytes
        data = "phone,name,tags\n3001234567,María,vip\n3105550101,Mar\ufffda,vip\n".encode()
        job = upload(client, contacts_stack, data)

        assert (job["status"], job["errorCode"]) == ("FAILED", "ENCODING")
        assert job["error"].startswith("the file is not valid UTF-8: on line 3, U+FFFD")
        # nothing of the file was written, not even the rows before the byte
        assert (job["imported"], stored_phones(client.campaign)) == (0, [])


# ---------------------------------------------------------------------------------------------- 7. CSV


class TestCsvIsParsedAsCsv:
    @pytest.mark.parametrize("separator", ["\u2028", "\x85", "\x0b"], ids=["U+2028", "NEL", "VT"])
    def test_the_probes_three_row_file_is_three_rows(self, client: Client, separator: str) -> None:
        # Given 3 data rows, one name holding a Unicode line break (splitlines made 6 rejected rows of them)
        job = client.import_csv(
            f"phone,name,tags\n3001234567,Ana,vip\n3105550101,Luis{separator}Pérez,vip\n3205550202,Caro,vip\n"
        ).body

        # Then 3 rows are read; the name is refused for its character on row 3
        assert (job["rowsProcessed"], job["imported"], job["rejected"]) == (3, 2, 1)
        code_point = f"U+{ord(separator):04X}"
        reason = f"name contains an invisible or control character ({code_point}) at position 5"
        assert line_and_reason(job["rejectedRows"]) == [{"line": 3, "reason": reason}]

    def test_an_unclosed_quote_is_400_with_its_line_and_writes_nothing(self, client: Client) -> None:
        reply = client.import_csv('phone,name,tags\n3001234567,Ana,vip\n3105550101,"Luis,vip\n3205550202,Caro,vip\n')

        assert (reply.status, reply.body["code"], reply.body["line"]) == (400, "VALIDATION_ERROR", 3)
        assert reply.body["details"][0]["message"] == (
            "line 3: a quoted field starts on this line and is never closed (a quote is missing), so the rest of "
            "the file cannot be read"
        )
        assert stored_phones(client.campaign) == []

    def test_an_upload_with_an_unclosed_quote_fails_with_its_line(self, client: Client, contacts_stack: Stack) -> None:
        job = upload(client, contacts_stack, b'phone,name,tags\n3001234567,Ana,vip\n3105550101,"Luis,vip\n')

        assert (job["status"], job["imported"]) == ("FAILED", 0)
        assert job["error"].startswith("line 3: a quoted field starts on this line and is never closed")

    def test_rows_are_numbered_as_a_spreadsheet_shows_them(self, client: Client) -> None:
        # Given a name quoted over three lines, then a bad number: a spreadsheet shows them as rows 2 and 3
        job = client.import_csv('phone,name,tags\n3001234567,"Ana\nMaría\nPérez",vip\n12345,Luis,vip\n').body

        assert [r["line"] for r in job["rejectedRows"]] == [2, 3]
        assert job["rowsProcessed"] == 2

    def test_an_upload_is_read_in_chunks_that_cut_characters_and_line_breaks(
        self, client: Client, contacts_stack: Stack, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Given chunks of 5 bytes: they cut "é" (2 bytes), "👍" (4 bytes) and \r\n in two
        monkeypatch.setattr(import_uploads, "CHUNK_BYTES", 5)
        rows = "".join(f"30012345{n:02d},Pérez 👍 {n},bulk\r\n" for n in range(20))

        job = upload(client, contacts_stack, ("\ufeffphone,name,tags\r\n" + rows).encode())

        assert (job["status"], job["imported"], job["rejected"]) == ("COMPLETED", 20, 0)
        assert {c["name"] for c in client.all_contacts()} == {f"Pérez 👍 {n}" for n in range(20)}


class TestSmsctlReadsFilesAlike:
    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (
                "phone,name,tags\n3001234567,Mar\ufffda,vip\n".encode(),
                "on line 2, U+FFFD (the replacement character",
            ),
            (
                b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xb5U0#\xf4\x00\x00\x00L\x02",
                "is it a workbook (.xlsx) renamed .csv?",
            ),
            (
                b'phone,name,tags\n3001234567,"Ana,vip\n',
                "line 2: a quoted field starts on this line and is never closed",
            ),
        ],
    )
    def test_a_file_it_cannot_read_is_refused_with_its_line_and_nothing_written(
        self, local: LocalEndpointStack, capsys: pytest.CaptureFixture[str], tmp_path: Path, data: bytes, message: str
    ) -> None:
        tenant_id = ok(capsys, "tenant", "create", "--name", "Acme", "--credits", "0", "--country", "CO")["tenantId"]
        (tmp_path / "contacts.csv").write_bytes(data)

        result = smsctl(capsys, "contacts", "import", "--tenant", tenant_id, str(tmp_path / "contacts.csv"))

        assert (result.code, result.out) == (1, "")
        assert message in result.err
        assert list(ContactRecord.query(tenant_id)) == []

    def test_letters_in_a_number_are_rejected_rows_with_the_apis_message(
        self, local: LocalEndpointStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        tenant_id = ok(capsys, "tenant", "create", "--name", "Acme", "--credits", "0", "--country", "CO")["tenantId"]
        (tmp_path / "contacts.csv").write_text("phone,name,tags\n300ABC4567,Ana,vip\n3001234567,Luis,vip\n")

        report = ok(capsys, "contacts", "import", "--tenant", tenant_id, str(tmp_path / "contacts.csv"))

        assert line_and_reason(report["rejectedRows"]) == [
            {"line": 2, "reason": "letters are not allowed in a phone number ('A' at position 4)"}
        ]
        assert report["imported"] == 1

    def test_a_phone_option_with_letters_is_a_usage_error(self, capsys: pytest.CaptureFixture[str]) -> None:
        result = smsctl(capsys, "inbound", "--from", "+57 300 ABC 4567", "--body", "STOP")

        assert result.code == 2
        assert "letters are not allowed in a phone number ('A' at position 9)" in result.err
