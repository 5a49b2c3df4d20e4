"""Bytes a client sent (a request body, an uploaded CSV) as text: one rule for both, and lines split as CSV splits.

The rule: the bytes must be UTF-8 (a leading byte order mark is dropped). The first byte that is not, or the first
U+FFFD (the replacement character: what API Gateway, or an earlier tool, leaves where bytes could not be read, so
`Mar\\xeda` arrives as `Mar\\ufffda`), stops the text with UndecodableText naming its byte offset. Nothing is
guessed and nothing is replaced. Request bodies (smscore.api.middlewares) decode through `decode_chunks` as
UTF-8 (JSON is UTF-8).

Contact files are what spreadsheets save: Excel in Spanish saves "CSV (delimitado por comas)" as Windows-1252,
"Texto Unicode" as UTF-16, old Excel for Mac as Mac Roman. `detect_file_codec` reads a whole file once: UTF-8
(with or without a byte order mark) when every byte is UTF-8, else the codec charset-normalizer finds among
those, judged on the bytes around the first one UTF-8 cannot read; a file it cannot place (a workbook, an image)
is UnreadableFile. The file is then decoded strictly in that codec, so it is imported right or refused whole.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator

from smscore.domain.names import REPLACEMENT_CHARACTER

__all__ = [
    "UndecodableText",
    "UnreadableFile",
    "codec_for",
    "codec_name",
    "decode_chunks",
    "decode_text",
    "detect_file_codec",
    "text_lines",
]

BYTE_ORDER_MARK = "\ufeff"
# A line with no break this long is no CSV row: it is handed on as it is (csv then refuses its field as too
# large), so that a file without line breaks cannot make the reader hold more than this.
MAX_LINE_CHARS = 1 << 20
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


# The codecs a spreadsheet saves a text file in, besides UTF-8 (Python's names), and how people call them.
FILE_CODECS = ("cp1252", "latin_1", "mac_roman", "utf_16")
_CODEC_NAMES = {
    "utf-8": "UTF-8",
    "utf_8": "UTF-8",
    "cp1252": "Windows-1252",
    "latin_1": "Latin-1 (ISO-8859-1)",
    "mac_roman": "Mac Roman",
    "utf_16": "UTF-16",
}
_SAMPLE_BYTES = 16_384  # bytes charset-normalizer judges: the file's start and the bytes around the first non-UTF-8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def codec_name(codec: str) -> str:
    """A codec as people call it ("Windows-1252")."""
    return _CODEC_NAMES.get(codec, codec)


class UndecodableText(ValueError):
    """The bytes are not text in `codec` at `offset` (0-based, in bytes from the start of the body or file)."""

    def __init__(self, offset: int, byte: int | None, codec: str = "utf-8") -> None:
        self.offset = offset
        self.byte = byte  # the byte that cannot be read; None when the text holds U+FFFD instead
        self.codec = codec
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


class UnreadableFile(ValueError):
    """A file that is not text in any codec a spreadsheet saves (a workbook, an image, a PDF renamed .csv)."""


def codec_for(head: bytes) -> str:
    """The codec of a request body: UTF-8 (JSON is; a contact file's codec is `detect_file_codec`'s)."""
    return "utf-8"


def detect_file_codec(chunks: Iterable[bytes]) -> str:
    """The codec a file was saved in: "utf-8" when all of it is UTF-8 or it starts with UTF-8's byte order mark,
    "utf_16" after a UTF-16 byte order mark, else cp1252, latin_1 or mac_roman as charset-normalizer judges the
    file's first bytes and those around the first byte UTF-8 cannot read. UnreadableFile when it is none of them."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    head = b""
    for chunk in chunks:
        if not head:
            if chunk.startswith(_UTF16_BOMS):
                return "utf_16"
            if chunk.startswith(codecs.BOM_UTF8):
                return "utf-8"  # the file says it is UTF-8: a byte that is not is an error, not another encoding
            head = bytes(chunk[:_SAMPLE_BYTES])
        try:
            decoder.decode(chunk, False)
        except UnicodeDecodeError as exc:
            around = bytes(chunk[max(0, exc.start - _SAMPLE_BYTES // 2) : exc.start + _SAMPLE_BYTES // 2])
            return _legacy_codec(head if around in head else head + b"\n" + around)
    try:
        decoder.decode(b"", True)
    except UnicodeDecodeError:
        return _legacy_codec(head)
    return "utf-8"


def _legacy_codec(sample: bytes) -> str:
    from charset_normalizer import from_bytes  # imported when a file is not UTF-8, not at init

    best = from_bytes(sample, cp_isolation=list(FILE_CODECS)).best()
    if best is None:
        raise UnreadableFile(
            "the file is not text in any encoding a spreadsheet saves (UTF-8, Windows-1252, Latin-1, Mac Roman, "
            "UTF-16): is it a workbook (.xlsx) renamed .csv? Save it from Excel as CSV and try again"
        )
    return str(best.encoding)


def _text_start(text: str, at_start: bool) -> str:
    return text.removeprefix(BYTE_ORDER_MARK) if at_start else text


def decode_chunks(chunks: Iterable[bytes], codec: str | None = None) -> Iterator[str]:
    """The text of a stream of bytes, piece by piece (memory stays bounded by a chunk), in `codec` (default: a
    request body's, UTF-8).

    Raises UndecodableText at the first byte that cannot be read, or the first U+FFFD, after yielding all the
    text before it (so a line-counting reader knows where it stopped).
    """
    decoder: codecs.IncrementalDecoder | None = None
    used = ""  # the codec in use, once the first bytes arrive
    fed = 0  # bytes given to the decoder so far
    at_start = True  # nothing yielded yet: a byte order mark here is dropped
    for chunk, final in _with_end(chunks):
        if decoder is None:
            if not chunk and not final:
                continue
            used = codec or codec_for(chunk)
            decoder = codecs.getincrementaldecoder(used)()
        start = fed - len(decoder.getstate()[0])  # offset of the first byte this call decodes (some may be buffered)
        try:
            text = decoder.decode(chunk, final)
        except UnicodeDecodeError as exc:
            readable = exc.object[: exc.start].decode(used)
            yield from _checked(readable, start, used, at_start)
            raise UndecodableText(start + exc.start, exc.object[exc.start], used) from None
        fed += len(chunk)
        yield from _checked(text, start, used, at_start)
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
    raise UndecodableText(start + len(text[:lost].encode(codec)), None, codec)


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
