"""The checked-in openapi.json is exactly what the handlers' models and template.yaml generate."""

from __future__ import annotations

from smsdev.openapi_doc import DOCUMENT_PATH, build, render


def test_checked_in_document_matches_the_code() -> None:
    # Given the document generated from the resolvers now / Then the committed one is identical
    assert DOCUMENT_PATH.read_text() == render(build()), "openapi.json is stale: run `make openapi` and commit it"


def test_routes_carry_the_security_the_template_gives_them() -> None:
    paths = build()["paths"]
    # The Twilio callback is outside the bearer-token authorizer; its signature is checked by the handler
    assert paths["/api/webhooks/twilio/status"]["post"]["security"] == []
    assert "403" in paths["/api/webhooks/twilio/status"]["post"]["responses"]
    for path in ("/api/messages", "/api/messages/{id}", "/api/messages/queues/{queueId}"):
        operation = paths[path]["get"]
        assert operation["security"] == [{"bearerAuth": []}]
        assert {"200", "400", "401"} <= set(operation["responses"])
        assert "422" not in operation["responses"]  # validation errors are answered 400 VALIDATION_ERROR


def test_list_parameters_are_documented_with_their_limits() -> None:
    parameters = {p["name"]: p for p in build()["paths"]["/api/messages"]["get"]["parameters"]}
    assert set(parameters) == {"queueId", "status", "recipient", "from", "to", "channel", "limit", "cursor"}
    assert parameters["limit"]["schema"]["maximum"] == 100
