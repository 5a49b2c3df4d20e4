"""Refund transactions on the tenant's balance item (issue 20, item 3), measured through the deliver handler.

One deliver invocation as the event source hands it over (the template's BatchSize records of
RECIPIENTS_PER_QUEUE_MESSAGE messages each, one campaign) runs on moto with a provider that refuses 5% of the
numbers permanently, and bench.capacity's write capture counts the transactions that wrote the Tenants item.
The row scales that count to 3,000 msg/s: invocations/s = 3,000 / (records per invocation x messages per record).

DynamoDB serialises transactions on one item: a transaction that meets another one in flight on the same item is
cancelled (TransactionConflict), whatever the write units, so transactions per second on one item is the figure
that matters here, not units.
[Transactions, conflict handling:
 https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-conflict-handling]
"""

from __future__ import annotations

import json
import os

from bench.harness import Row

RATE = 3_000
FAILURE_SHARE = 0.05
TARGET = 10


def _template_batching() -> tuple[int, int]:
    """(records per deliver invocation, messages per record): the event source's BatchSize, the parameter's default."""
    from smsdev.template import load_template

    template = load_template()
    event = template["Resources"]["DeliverFunction"]["Properties"]["Events"]["DeliveryQueueEvent"]["Properties"]
    return int(event["BatchSize"]), int(template["Parameters"]["RecipientsPerQueueMessage"]["Default"])


def measure(measured_per_record: int = 10) -> Row:
    """One invocation of the template's BatchSize records, `measured_per_record` messages each (the template's 50
    take about 90 s on the serialised emulator; the transactions per invocation do not depend on it while a
    campaign's failures in one invocation stay within one transaction's 98 messages), scaled to the template's
    record size for the rate."""
    from bench.capacity import captured, schemas_from_template
    from bench.harness import LambdaContext, drain_sqs_records, moto_stack, serialised_moto
    from bench.send_path import _invoke, _seed
    from smscore import wiring
    from smscore.dal.tables import LedgerRecord, TenantRecord
    from smscore.domain.ports import Accepted, PermanentFailure, SmsProvider, SmsRequest
    from smscore.providers.registry import ProviderRegistry

    records_per_invocation, per_record = _template_batching()
    messages = records_per_invocation * measured_per_record
    refused = {f"+57300{i:07d}" for i in range(0, messages, round(1 / FAILURE_SHARE))}

    class RefusesSome(SmsProvider):
        """A carrier that accepts at once (no outbox write: on the serialised emulator that would time sends out)
        and refuses a fixed 5% of the numbers as invalid (a permanent failure, refunded)."""

        name = "sandbox"
        character_limit = 1600

        def send(self, request: SmsRequest) -> Accepted:
            if request.recipient in refused:
                raise PermanentFailure("BENCH_21211", "invalid number")
            return Accepted(provider_message_id=f"bench-{request.message_id}")

    env = {"RECIPIENTS_PER_QUEUE_MESSAGE": str(measured_per_record), "POWERTOOLS_METRICS_DISABLED": "true"}
    with moto_stack(env) as stack, serialised_moto():
        os.environ.update(stack.environment("DeliverFunction"))
        os.environ.update(env)
        from functions.deliver import app as deliver  # after the environment: its Metrics read the namespace

        sender = _seed(messages)
        schemas = schemas_from_template(stack.names)
        opening = int(TenantRecord.get(sender.tenant_id).credits)
        response = _invoke(sender)
        assert len(json.loads(response["body"])["messages"]) == messages
        records = drain_sqs_records(stack.delivery_queue_url)
        assert len(records) == records_per_invocation, len(records)
        provider = RefusesSome()
        deps = wiring.build_deliver_deps(wiring.bound_settings(), ProviderRegistry({"sandbox": lambda: provider}))
        with captured(schemas) as tally:
            result = deliver.lambda_handler({"Records": records}, LambdaContext("deliver", 1024, 60_000), deps=deps)
        assert result == {"batchItemFailures": []}, result
        balance = int(TenantRecord.get(sender.tenant_id).credits)
        ledger = sum(int(e.amount) for e in LedgerRecord.query(sender.tenant_id))
        refunds = [e for e in LedgerRecord.query(sender.tenant_id) if e.kind == "REFUND"]
    tenants = next(s.logical_id for s in schemas.values() if s.logical_id == "TenantsTable")
    per_invocation = tally.writes[f"{tenants} TransactWriteItems"]
    assert balance == ledger == opening - messages + len(refused), (balance, ledger)
    assert sum(int(e.amount) for e in refunds) == len(refused)
    invocations_per_second = RATE / (records_per_invocation * per_record)
    value = per_invocation * invocations_per_second
    records_per_second = RATE / per_record
    before = records_per_second * (1 - (1 - FAILURE_SHARE) ** per_record)
    return Row(
        name="capacity: balance-item transactions/s at 3,000 msg/s with 5% failures",
        value=round(value, 1),
        unit="tx/s",
        baseline=TARGET,
        target=f"<= {TARGET} (one settlement per invocation and campaign; balance = ledger)",
        passed=value <= TARGET,
        details={
            "measured_invocation": (
                f"{records_per_invocation} records x {measured_per_record} messages, {len(refused)} refused"
            ),
            "modelled_invocation": f"{records_per_invocation} records x {per_record} messages (template)",
            "balance_item_transactions_per_invocation": per_invocation,
            "invocations_per_second": round(invocations_per_second, 1),
            "balance_equals_ledger": balance == ledger,
            "before_one_per_record_with_a_failure_tx_per_s": round(before, 1),
        },
    )
