"""S3 `Object Created` under `exclusions/` in the imports bucket: load that RNE snapshot, then make it current.

The key names the CRC's date of the list: `exclusions/<YYYY-MM-DD>...` (e.g. `exclusions/2026-12-01.csv`); the
file is `number[,channels]` (smscore.domain.exclusions). A failed load raises (alarmed); the previous snapshot stays
current, so sends never see half a list.
"""

import re
from datetime import UTC, date, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from smscore import wiring
from smscore.observability import quiet_empty_metrics, report_unparseable, s3_object_key
from smscore.wiring import ExclusionsDeps

logger = Logger()
tracer = Tracer()
metrics = Metrics()
quiet_empty_metrics()

KEY = re.compile(r"^exclusions/(\d{4}-\d{2}-\d{2})")


def snapshot_date_of(key: str) -> date | None:
    match = KEY.match(key)
    if match is None:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: ExclusionsDeps | None = None) -> dict[str, Any]:
    from smscore.domain.exclusions import load_snapshot

    key = s3_object_key(event)
    if key is None:  # not the EventBridge event of its rule (AWS's S3 sample, say): logged once, counted
        reason = "an S3 Object Created event with detail.object.key is required"
        report_unparseable(logger, metrics, source="exclusion-uploads", message_id=event.get("id"), reason=reason)
        return {"status": "ignored"}
    deps = deps or wiring.exclusions_deps()
    detail = event["detail"]
    snapshot_date = snapshot_date_of(key)
    if snapshot_date is None:
        logger.warning("Upload ignored: the key does not start with exclusions/<YYYY-MM-DD>", extra={"key": key})
        return {"status": "ignored"}
    lines = deps.read_lines(str(detail.get("bucket", {}).get("name", "")), key)
    snapshot = load_snapshot(lines, snapshot_date, deps.exclusions, now=datetime.now(UTC))
    logger.info(
        "Exclusion list loaded and current",
        extra={"snapshot_date": snapshot_date.isoformat(), "count": snapshot.count, "key": key},
    )
    return {"status": "loaded", "snapshotDate": snapshot_date.isoformat(), "count": snapshot.count}
