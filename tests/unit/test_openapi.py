"""The checked-in openapi.json is exactly what the handlers' models and template.yaml generate."""

from __future__ import annotations

import importlib

import pytest

from smsdev.openapi_doc import DOCUMENT_PATH, METHODS, POWERTOOLS_VALIDATION_ERROR, _handler_modules, build, render


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


def _declared_by_code() -> list[tuple[str, str, set[str]]]:
    """(method, path, statuses) as each resolver declares them, before the document is assembled."""
    declared = []
    for module_name in _handler_modules():
        schema = importlib.import_module(module_name).app.get_openapi_schema().model_dump(by_alias=True)
        for path, item in schema["paths"].items():
            for method in METHODS:
                if item.get(method):
                    responses = item[method]["responses"]
                    statuses = {
                        str(status)
                        for status, response in responses.items()
                        if POWERTOOLS_VALIDATION_ERROR not in str(response)  # Powertools' own 422, answered as 400
                    }
                    declared.append((method, path, statuses))
    return declared


def _id(value: object) -> str:
    """Stable across pytest-xdist workers: a set's order depends on each process's hash seed."""
    return ",".join(sorted(value)) if isinstance(value, set) else str(value)


@pytest.mark.parametrize(("method", "path", "statuses"), _declared_by_code(), ids=_id)
def test_every_status_a_route_declares_is_in_the_document(method: str, path: str, statuses: set[str]) -> None:
    documented = set(build()["paths"][path][method]["responses"])
    assert statuses <= documented


def test_the_send_route_documents_every_answer_of_the_error_table() -> None:
    responses = build()["paths"]["/api/messages/sms/tags"]["post"]["responses"]
    expected = {"200", "201", "400", "401", "402", "403", "409", "413", "415", "422", "500", "503", "504"}
    assert expected <= set(responses)
    assert "TOO_MANY_RECIPIENTS" in responses["422"]["description"]
