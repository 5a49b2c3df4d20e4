"""The embedded AWS endpoint: moto's server app behind one lock, served by werkzeug on 127.0.0.1.

moto applies a DynamoDB ConditionExpression and the write it guards as two separate steps, so under
concurrent requests two debits can both see the old balance (measured: 1,110 successful debits of one
credit from a balance of 1,000 with 16 threads). DynamoDB makes each conditional write atomic; handling
one request at a time (smsdev.testing.serialised_wsgi) restores that guarantee locally, at the cost of
throughput nobody needs here.
"""

from __future__ import annotations

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

from smsdev.moto_fair_queues import install as install_fair_queues
from smsdev.moto_transactions import install as install_item_level_rollback
from smsdev.testing import serialised_wsgi
from smsdev.wsgi import BackgroundServer


class LocalAws(BackgroundServer):
    """moto on 127.0.0.1:<port> in a background thread; every backend (DynamoDB, SQS, ...) in one process."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        super().__init__(port, host, name="local-aws")

    @property
    def endpoint(self) -> str:
        return self.url

    def start(self) -> None:
        install_item_level_rollback()  # transactions cost what they touch, not the size of their tables
        install_fair_queues()  # a tenant's records ahead of another tenant's backlog, as SQS fair queues do
        app = serialised_wsgi(DomainDispatcherApplication(create_backend_app))
        self.serve(app, request_handler=MotoRequestHandler)
