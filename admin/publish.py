"""CloudFormation custom resource: copies the admin SPA (`site/`, packaged with this function) to the admin bucket.

`sam deploy` uploads this folder as the function's code, so the files published are exactly the ones deployed; the
template passes the function's published version as a property, so a change to any file is a new version and an
Update of the resource, which re-publishes and invalidates CloudFront's copies. Delete empties the `admin/` prefix so
CloudFormation can delete the bucket. Only boto3 (in the Lambda runtime) is used.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

SITE = Path(__file__).parent / "site"
PREFIX = "admin/"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
# index.html is revalidated on every load; the modules it names are cached briefly (a publish invalidates them).
CACHE_CONTROL = {".html": "no-cache"}
DEFAULT_CACHE_CONTROL = "public, max-age=300"

log = logging.getLogger(__name__)
log.setLevel(logging.INFO)


@dataclass(frozen=True)
class SiteFile:
    key: str
    path: Path
    content_type: str
    cache_control: str


def site_files(site: Path = SITE) -> list[SiteFile]:
    files = []
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        relative = path.relative_to(site).as_posix()
        guessed = mimetypes.guess_type(path.name)[0]
        content_type = CONTENT_TYPES.get(path.suffix) or guessed or "application/octet-stream"
        files.append(
            SiteFile(PREFIX + relative, path, content_type, CACHE_CONTROL.get(path.suffix, DEFAULT_CACHE_CONTROL))
        )
    return files


class Invalidations(Protocol):
    def create_invalidation(self, *, DistributionId: str, InvalidationBatch: dict[str, Any]) -> Any: ...  # noqa: N803


def _keys_under_prefix(s3: Any, bucket: str) -> set[str]:
    keys: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=PREFIX):
        keys.update(item["Key"] for item in page.get("Contents", []))
    return keys


def publish(s3: Any, cloudfront: Invalidations, bucket: str, distribution_id: str, site: Path = SITE) -> list[str]:
    """Upload every file, delete what the site no longer has, invalidate `/admin/*`. Returns the keys written."""
    files = site_files(site)
    for file in files:
        s3.put_object(
            Bucket=bucket,
            Key=file.key,
            Body=file.path.read_bytes(),
            ContentType=file.content_type,
            CacheControl=file.cache_control,
        )
    stale = _keys_under_prefix(s3, bucket) - {f.key for f in files}
    for key in sorted(stale):
        s3.delete_object(Bucket=bucket, Key=key)
    cloudfront.create_invalidation(
        DistributionId=distribution_id,
        InvalidationBatch={
            "Paths": {"Quantity": 1, "Items": [f"/{PREFIX}*"]},
            "CallerReference": f"admin-{time.time_ns()}",
        },
    )
    return [f.key for f in files]


def remove(s3: Any, bucket: str) -> None:
    for key in sorted(_keys_under_prefix(s3, bucket)):
        s3.delete_object(Bucket=bucket, Key=key)


def _respond(event: dict[str, Any], status: str, reason: str, physical_id: str) -> None:
    """Answer CloudFormation at the presigned ResponseURL (the stack waits for it)."""
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:1000],
            "PhysicalResourceId": physical_id,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
        }
    ).encode()
    url = str(event["ResponseURL"])
    if not url.startswith("https://"):
        raise ValueError("ResponseURL must be https")
    request = urllib.request.Request(url, data=body, method="PUT", headers={"Content-Type": ""})  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - CloudFormation's presigned URL
        response.read()


Respond = Callable[[dict[str, Any], str, str, str], None]


def handler(
    event: dict[str, Any], context: Any, s3: Any = None, cloudfront: Any = None, respond: Respond | None = None
) -> None:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    properties = event.get("ResourceProperties", {})
    bucket = str(properties.get("Bucket", ""))
    physical_id = f"admin-site-{bucket}"
    s3 = s3 or boto3.client("s3")
    cloudfront = cloudfront or boto3.client("cloudfront")
    status, reason = "SUCCESS", ""
    try:
        if event["RequestType"] == "Delete":
            remove(s3, bucket)
        else:
            written = publish(s3, cloudfront, bucket, str(properties["DistributionId"]))
            reason = f"published {len(written)} files"
    # A custom resource that raises never answers, and the stack waits an hour: AWS failures are reported instead.
    except (BotoCoreError, ClientError, KeyError, OSError) as exc:
        log.exception("admin site %s failed", event.get("RequestType"))
        status, reason = "FAILED", f"{type(exc).__name__}: {exc}"
    (respond or _respond)(event, status, reason, physical_id)
