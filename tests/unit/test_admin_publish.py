"""The admin site publisher (a CloudFormation custom resource): what lands in the bucket, what CloudFormation hears."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from admin import publish

SITE = Path(publish.__file__).parent / "site"


@dataclass
class RecordedInvalidations:
    """CloudFront's CreateInvalidation, recorded."""

    batches: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def create_invalidation(self, *, DistributionId: str, InvalidationBatch: dict[str, Any]) -> Any:  # noqa: N803
        self.batches.append((DistributionId, InvalidationBatch))
        return {"Invalidation": {"Id": "I1"}}


@dataclass
class RecordedAnswers:
    answers: list[tuple[str, str, str]] = field(default_factory=list)

    def __call__(self, event: dict[str, Any], status: str, reason: str, physical_id: str) -> None:
        self.answers.append((status, reason, physical_id))


@pytest.fixture
def s3() -> Any:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="admin-site")
        yield client


def event(kind: str, bucket: str = "admin-site") -> dict[str, Any]:
    return {
        "RequestType": kind,
        "ResourceProperties": {"Bucket": bucket, "DistributionId": "E123", "Release": "3"},
        "ResponseURL": "https://cloudformation-custom-resource-response.example/x",
        "StackId": "stack",
        "RequestId": "r1",
        "LogicalResourceId": "AdminSite",
    }


def test_create_publishes_every_site_file_with_its_type_and_invalidates_the_site(s3: Any) -> None:
    # Given the site as it is in the repository, and an old file left in the bucket by a previous release
    s3.put_object(Bucket="admin-site", Key="admin/old-module.js", Body=b"old")
    s3.put_object(Bucket="admin-site", Key="imports/keep.csv", Body=b"not ours")
    cloudfront, answers = RecordedInvalidations(), RecordedAnswers()

    # When CloudFormation creates the resource
    publish.handler(event("Create"), None, s3=s3, cloudfront=cloudfront, respond=answers)

    # Then every file of admin/site is under admin/ with its content type, and nothing else is there
    expected = {f"admin/{p.relative_to(SITE).as_posix()}" for p in SITE.rglob("*") if p.is_file()}
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket="admin-site", Prefix="admin/")["Contents"]}
    assert "admin/index.html" in expected
    assert listed == expected
    index = s3.get_object(Bucket="admin-site", Key="admin/index.html")
    assert index["ContentType"] == "text/html; charset=utf-8"
    assert index["CacheControl"] == "no-cache"
    assert index["Body"].read() == (SITE / "index.html").read_bytes()
    assert s3.get_object(Bucket="admin-site", Key="admin/app.js")["ContentType"] == "text/javascript; charset=utf-8"
    # And objects outside admin/ are left alone
    assert s3.get_object(Bucket="admin-site", Key="imports/keep.csv")["Body"].read() == b"not ours"
    # And CloudFront's copies of the site are invalidated, and CloudFormation told it succeeded
    assert [(d, b["Paths"]["Items"]) for d, b in cloudfront.batches] == [("E123", ["/admin/*"])]
    assert answers.answers == [("SUCCESS", f"published {len(expected)} files", "admin-site-admin-site")]


def test_delete_empties_the_site_prefix_so_the_bucket_can_go(s3: Any) -> None:
    # Given a published site
    publish.handler(event("Create"), None, s3=s3, cloudfront=RecordedInvalidations(), respond=RecordedAnswers())
    answers = RecordedAnswers()

    # When the stack deletes the resource
    publish.handler(event("Delete"), None, s3=s3, cloudfront=RecordedInvalidations(), respond=answers)

    # Then nothing is left under admin/, and CloudFormation is answered with the same physical id
    assert s3.list_objects_v2(Bucket="admin-site", Prefix="admin/").get("KeyCount") == 0
    assert answers.answers == [("SUCCESS", "", "admin-site-admin-site")]


def test_an_aws_failure_is_reported_to_cloudformation_instead_of_leaving_the_stack_waiting(s3: Any) -> None:
    # Given a bucket that does not exist
    answers = RecordedAnswers()

    # When the resource is created
    publish.handler(event("Create", bucket="missing"), None, s3=s3, cloudfront=RecordedInvalidations(), respond=answers)

    # Then CloudFormation hears FAILED with the reason
    [(status, reason, _)] = answers.answers
    assert status == "FAILED"
    assert "NoSuchBucket" in reason
