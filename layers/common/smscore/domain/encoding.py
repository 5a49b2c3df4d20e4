"""Bytes a client sent (a request body, an uploaded CSV) as text: one rule for both, and lines split as CSV splits.

The rule: the bytes must be UTF-8 (a leading byte order mark is dropped). The first byte that is not, or the first
U+FFFD (the replacement character: what API Gateway, or an earlier tool, leaves where bytes could not be read, so
`Mar\\xeda` arrives as `Mar\\ufffda`), stops the text with UndecodableText naming its byte offset. Nothing is
guessed and nothing is replaced. Request bodies (smscore.api.middlewares) and uploads (smscore.api.contacts) both
decode through `decode_chunks`; `codec_for` is the single place where an encoding other than UTF-8 could be
detected (Windows-1252, from the first bytes) for both paths at once.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator

from smscore.domain.names import REPLACEMENT_CHARACTER

__all__ = ["UndecodableText", "codec_for", "decode_chunks", "decode_text", "text_lines"]

BYTE_ORDER_MARK = "\ufeff"
# A line with no break this long is no CSV row: it is handed on as it is (csv then refuses its field as too
# large), so that a file without line breaks cannot make the reader hold more than this.
MAX_LINE_CHARS = 1 << 20
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class UndecodableText(ValueError):
    """The bytes are not UTF-8 text at `offset` (0-based, in bytes from the start of the body or file)."""

    def __init__(self, offset: int, byte: int | None) -> None:
        self.offset = offset
        self.byte = byte  # the byte that cannot be read; None when the text holds U+FFFD instead
        super().__init__(self.what)

    @property
    def what(self) -> str:
        """E.g. "the byte 0xED at byte offset 3 cannot be read"."""
        if self.byte is None:
            return (
                f"U+FFFD (the replacement character, which stands for bytes that could not be read) "
                f"is at byte offset {self.offset}"
            )
        return f"the byte 0x{self.byte:02X} at byte offset {self.offset} cannot be read"


def codec_for(head: bytes) -> str:
    """The codec of a body or file, from its first bytes: UTF-8 for now (the seam for encoding detection)."""
    return "utf-8"


def _text_start(text: str, at_start: bool) -> str:
    return text.removeprefix(BYTE_ORDER_MARK) if at_start else text


def decode_chunks(chunks: Iterable[bytes]) -> Iterator[str]:
    """The text of a stream of bytes, piece by piece (memory stays bounded by a chunk).

    Raises UndecodableText at the first byte that cannot be read, or the first U+FFFD, after yielding all the
    text before it (so a line-counting reader knows where it stopped).
    """
    decoder: codecs.IncrementalDecoder | None = None
    codec = ""
    fed = 0  # bytes given to the decoder so far
    at_start = True  # nothing yielded yet: a byte order mark here is dropped
    for chunk, final in _with_end(chunks):
        if decoder is None:
            if not chunk and not final:
                continue
            codec = codec_for(chunk)
            decoder = codecs.getincrementaldecoder(codec)()
        start = fed - len(decoder.getstate()[0])  # offset of the first byte this call decodes (some may be buffered)
        try:
            text = decoder.decode(chunk, final)
        except UnicodeDecodeError as exc:
            readable = exc.object[: exc.start].decode(codec)
            yield from _checked(readable, start, codec, at_start)
            raise UndecodableText(start + exc.start, exc.object[exc.start]) from None
        fed += len(chunk)
        yield from _checked(text, start, codec, at_start)
        at_start = at_start and not text


def _with_end(chunks: Iterable[bytes]) -> Iterator[tuple[bytes, bool]]:
    for chunk in chunks:
        yield bytes(chunk), False
    yield b"", True


def _checked(text: str, start: int, codec: str, at_start: bool) -> Iterator[str]:
    """`text` (which begins at byte `start`) up to a U+FFFD, then UndecodableText at that U+FFFD."""
    lost = text.find(REPLACEMENT_CHARACTER)
    if lost < 0:
        if text:
            yield _text_start(text, at_start)
        return
    if lost:
        yield _text_start(text[:lost], at_start)
    raise UndecodableText(start + len(text[:lost].encode(codec)), None)


def decode_text(data: bytes) -> str:
    """The text of a whole body, by the same rule as an upload's."""
    return "".join(decode_chunks([data]))


def text_lines(texts: Iterable[str]) -> Iterator[str]:
    """Lines of a text stream, each with its line break, split only on \\r\\n, \\r and \\n (what csv reads with
    newline=""), never on U+2028, NEL, vertical tab or form feed, which are characters inside a field."""
    pending = ""
    for text in texts:
        pending += text
        end = 0
        for match in _LINE_BREAK.finditer(pending):
            if match.group() == "\r" and match.end() == len(pending):
                break  # a \n may follow in the next piece: \r\n is one break
            yield pending[end : match.end()]
            end = match.end()
        pending = pending[end:]
        if len(pending) > MAX_LINE_CHARS:
            yield pending
            pending = ""
    if pending:
        yield pending
