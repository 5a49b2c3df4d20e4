"""One UTF-8 rule for request bodies and uploads, and lines split only where CSV splits them (no AWS)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smscore.domain.encoding import UndecodableText, decode_chunks, decode_text, text_lines


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_utf8_text_is_decoded_and_a_leading_byte_order_mark_dropped() -> None:
    assert decode_text("\ufeffMaría 👍".encode()) == "María 👍"
    assert decode_text("a\ufeffb".encode()) == "a\ufeffb"  # only a leading one is a byte order mark
    assert decode_text(b"") == ""


@pytest.mark.parametrize(
    ("data", "offset", "byte"),
    [
        pytest.param(b"Mar\xeda", 3, 0xED, id="Latin-1 i-acute (the probe's body)"),
        pytest.param(b"\xff", 0, 0xFF, id="first byte"),
        pytest.param("Pérez,".encode() + b"\x80", 7, 0x80, id="after a two-byte character"),
        pytest.param(b"abc\xe2\x82", 3, 0xE2, id="truncated at the end"),
        pytest.param(b"\xef\xbb\xbfab\xc3(", 5, 0xC3, id="offset counts the byte order mark"),
        pytest.param(b"a\xed\xa0\x80", 1, 0xED, id="an encoded surrogate"),
        pytest.param(b"ok\xc0\xaf", 2, 0xC0, id="an overlong form"),
    ],
)
def test_the_first_undecodable_byte_is_named_with_its_offset(data: bytes, offset: int, byte: int) -> None:
    with pytest.raises(UndecodableText) as failed:
        decode_text(data)
    assert (failed.value.offset, failed.value.byte) == (offset, byte)
    assert failed.value.what == f"the byte 0x{byte:02X} at byte offset {offset} cannot be read"


@pytest.mark.parametrize(
    ("text", "offset"),
    [("Mar\ufffda", 3), ("\ufffd", 0), ("Pérez \ufffd", 7), ("\ufeff\ufffd", 3)],
)
def test_a_replacement_character_counts_as_bytes_that_could_not_be_read(text: str, offset: int) -> None:
    # API Gateway hands a function `Mar\xeda` as `Mar\ufffda`: the byte is lost, the rule still holds
    with pytest.raises(UndecodableText) as failed:
        decode_text(text.encode())
    assert (failed.value.offset, failed.value.byte) == (offset, None)
    assert (
        f"U+FFFD (the replacement character, which stands for bytes that could not be read) is at byte offset {offset}"
        == failed.value.what
    )


@given(
    prefix=st.text(st.characters(codec="utf-8", exclude_characters="\ufffd"), max_size=40),
    bad=st.sampled_from([b"\xed", b"\x80", b"\xff", b"\xc3(", b"\xf0\x9f\x98"]),
    size=st.integers(min_value=1, max_value=7),
)
def test_chunk_boundaries_change_neither_the_text_nor_the_offset(prefix: str, bad: bytes, size: int) -> None:
    # Given valid text, then a bad byte, cut into chunks anywhere (inside multi-byte characters too)
    data = prefix.encode() + bad + b"tail"
    decoded: list[str] = []

    with pytest.raises(UndecodableText) as failed:
        decoded.extend(decode_chunks(pieces(data, size)))

    # Then all the text before the byte came out, and the offset is the byte's place in the whole stream
    assert "".join(decoded) == prefix.removeprefix("\ufeff")
    assert failed.value.offset == len(prefix.encode())


@given(text=st.text(st.characters(codec="utf-8", exclude_characters="\ufffd"), max_size=60), size=st.integers(1, 9))
def test_valid_text_in_any_chunks_decodes_to_itself(text: str, size: int) -> None:
    assert "".join(decode_chunks(pieces(text.encode(), size))) == text.removeprefix("\ufeff")


class TestLines:
    @pytest.mark.parametrize(
        "separator", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"], ids=repr
    )
    def test_unicode_line_breaks_are_characters_inside_a_line(self, separator: str) -> None:
        # str.splitlines() splits on all of them; CSV (and a spreadsheet) does not
        text = f"phone,name,tags\r\n3001234567,Ana{separator}María,vip\n"
        assert list(text_lines([text])) == ["phone,name,tags\r\n", f"3001234567,Ana{separator}María,vip\n"]

    def test_crlf_cr_and_lf_end_lines_and_a_last_line_may_have_none(self) -> None:
        assert list(text_lines(["a\r\nb\rc\nd"])) == ["a\r\n", "b\r", "c\n", "d"]

    @given(text=st.text(st.sampled_from("ab\r\n\u2028"), max_size=30), size=st.integers(1, 5))
    def test_pieces_split_anywhere_give_the_same_lines(self, text: str, size: int) -> None:
        # a \r\n cut between two pieces is still one line break
        whole = list(text_lines([text]))
        assert list(text_lines([text[i : i + size] for i in range(0, len(text), size)])) == whole
        assert "".join(whole) == text
