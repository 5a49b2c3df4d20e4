"""The reconciler's scheduled run as the fan-out and planning tests drive it: one place, as wired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from functions.reconciler import app as reconciler_app
from smscore import wiring
from smscore.dal.planning_store import DynamoPlanningStore, PlanningAbandoner
from smscore.dal.reconciler_store import DynamoReconcilerStore
from smscore.domain.reconciler import Reconciler
from smscore.wiring import ReconcilerDeps
from tests.conftest import LambdaContextStub


def run_reconciler(hours_later: float = 1.0) -> dict[str, Any]:
    """One run of the reconciler handler `hours_later` (past every deadline and lease), with the adapters
    smscore.wiring.reconciler_deps gives it: unfinished fan-outs and unfinished planning alike."""
    at = datetime.now(UTC) + timedelta(hours=hours_later)
    settings = wiring.bound_settings()
    deps = ReconcilerDeps(
        reconciler=Reconciler(
            store=DynamoReconcilerStore(region=settings.aws_region),
            queue=wiring.delivery_queue(),
            recipients_per_queue_message=settings.recipients_per_queue_message,
            lease_seconds=600,
            now=lambda: at,
            planning=PlanningAbandoner(DynamoPlanningStore(wiring.campaign_store(), region=settings.aws_region)),
        ),
        max_campaigns=10,
    )
    result: dict[str, Any] = reconciler_app.lambda_handler({}, LambdaContextStub(), deps=deps)
    return result
