"""The integration fixtures some tooling tests build on: a tenant on the moto stack with the contacts function's
environment (the API's error messages), and moto's HTTP server provisioned like the local stack (smsctl)."""

from tests.integration.conftest import admin, campaign, contacts_stack, local, moto_server  # noqa: F401 - fixtures
