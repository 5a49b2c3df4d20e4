"""The imports bucket: presigned uploads of large contacts CSV files, streamed back to the import in chunks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

CHUNK_BYTES = 1 << 20


class S3Uploads:
    """`client` is a boto3 S3 client (built by smscore.wiring on first use)."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def presigned_put(self, key: str, expires_in: int) -> str:
        url: str = self._client.generate_presigned_url(
            "put_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=expires_in, HttpMethod="PUT"
        )
        return url

    def size(self, key: str) -> int:
        return int(self._client.head_object(Bucket=self._bucket, Key=key)["ContentLength"])

    def chunks(self, key: str) -> Iterator[bytes]:
        """The file's bytes, streamed (a 100,000-row file is never held whole); decoded by the import itself
        (smscore.domain.encoding), by the rule request bodies follow."""
        body = self._client.get_object(Bucket=self._bucket, Key=key)["Body"]
        yield from body.iter_chunks(chunk_size=CHUNK_BYTES)
