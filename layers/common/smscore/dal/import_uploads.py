"""The imports bucket: presigned uploads of large contacts CSV files, read back line by line by the import."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from typing import Any


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

    def lines(self, key: str) -> Iterator[str]:
        """The file's text lines, streamed (a 100,000-row file is never held whole); UTF-8, BOM dropped."""
        body = self._client.get_object(Bucket=self._bucket, Key=key)["Body"]
        decoder = codecs.getincrementaldecoder("utf-8-sig")()
        pending = ""
        for chunk in body.iter_chunks(chunk_size=1 << 20):
            pending += decoder.decode(chunk)
            *complete, pending = pending.splitlines(keepends=True) or [""]
            if pending.endswith(("\n", "\r")):
                complete.append(pending)
                pending = ""
            yield from complete
        pending += decoder.decode(b"", final=True)
        if pending:
            yield pending
