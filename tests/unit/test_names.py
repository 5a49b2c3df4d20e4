"""Names that cannot spoof: refused characters with their position, and NFKC uniqueness keys (no AWS)."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smscore.domain.contacts import clean_contact_name, clean_tag_name, split_tags, tag_name_key
from smscore.domain.errors import InvalidCharacter, InvalidRequest
from smscore.domain.names import is_noncharacter, name_key, refused_character, without_refused_characters

# The probe's names, and one of each refused kind: (name, code point, 1-based position, what the message says)
REFUSED = [
    pytest.param("\u200b", "U+200B", 1, "an invisible or control character", id="zero-width space alone"),
    pytest.param("vi\u200bp", "U+200B", 3, "an invisible or control character", id="zero-width space inside vip"),
    pytest.param("v\u200cip", "U+200C", 2, "an invisible or control character", id="zero-width non-joiner"),
    pytest.param("v\u200dip", "U+200D", 2, "an invisible or control character", id="zero-width joiner"),
    pytest.param("vip\u2060", "U+2060", 4, "an invisible or control character", id="word joiner"),
    pytest.param("\ufeffvip", "U+FEFF", 1, "an invisible or control character", id="byte order mark"),
    pytest.param("abc\u202egnp.exe", "U+202E", 4, "an invisible or control character", id="right-to-left override"),
    pytest.param("abc\u202agnp", "U+202A", 4, "an invisible or control character", id="left-to-right embedding"),
    pytest.param("a\u2066b\u2069", "U+2066", 2, "an invisible or control character", id="left-to-right isolate"),
    pytest.param("a\u2069", "U+2069", 2, "an invisible or control character", id="pop directional isolate"),
    pytest.param("a\u200eb", "U+200E", 2, "an invisible or control character", id="left-to-right mark"),
    pytest.param("a\u200fb", "U+200F", 2, "an invisible or control character", id="right-to-left mark"),
    pytest.param("a\u061cb", "U+061C", 2, "an invisible or control character", id="arabic letter mark"),
    pytest.param("vip\x00", "U+0000", 4, "an invisible or control character", id="NUL"),
    pytest.param("v\x07ip", "U+0007", 2, "an invisible or control character", id="BEL"),
    pytest.param("vip\x7f", "U+007F", 4, "an invisible or control character", id="DEL"),
    pytest.param("\x1fvip", "U+001F", 1, "an invisible or control character", id="unit separator"),
    pytest.param("vip\n", "U+000A", 4, "an invisible or control character", id="line feed at the end"),
    pytest.param("a\x0bb", "U+000B", 2, "an invisible or control character", id="vertical tab"),
    pytest.param("a\x85b", "U+0085", 2, "an invisible or control character", id="NEL"),
    pytest.param("a\u2028b", "U+2028", 2, "an invisible or control character", id="line separator"),
    pytest.param("a\u2029b", "U+2029", 2, "an invisible or control character", id="paragraph separator"),
    pytest.param("vip\uffff", "U+FFFF", 4, "a noncharacter", id="U+FFFF"),
    pytest.param("vip\ufffe", "U+FFFE", 4, "a noncharacter", id="U+FFFE"),
    pytest.param("\ufdd0vip", "U+FDD0", 1, "a noncharacter", id="U+FDD0"),
    pytest.param("vip\U0010ffff", "U+10FFFF", 4, "a noncharacter", id="last code point"),
    pytest.param("vip\ud800", "U+D800", 4, "an unpaired surrogate", id="lone surrogate from a JSON escape"),
    pytest.param("Mar\ufffda", "U+FFFD", 4, "the replacement character", id="replacement character"),
]


@pytest.mark.parametrize(("name", "code_point", "position", "kind"), REFUSED)
def test_refused_characters_are_named_with_their_position(name: str, code_point: str, position: int, kind: str) -> None:
    refused = refused_character(name)

    assert refused is not None
    assert (refused.code_point, refused.position, refused.kind) == (code_point, position, kind)
    assert refused.sentence("name").startswith(f"name contains {kind} ({code_point}) at position {position}")


@pytest.mark.parametrize(("name", "code_point", "position", "kind"), REFUSED)
def test_tag_and_contact_names_refuse_them_with_a_stable_code(
    name: str, code_point: str, position: int, kind: str
) -> None:
    for clean in (clean_tag_name, clean_contact_name):
        with pytest.raises(InvalidCharacter) as refused:
            clean(name)
        assert refused.value.code == "INVALID_CHARACTER"
        assert refused.value.extra == {"codePoint": code_point, "position": position}
        assert refused.value.details[0].field == "name"
        assert refused.value.details[0].message.startswith(
            f"name contains {kind} ({code_point}) at position {position}"
        )


def test_the_probes_example_reads_as_the_issue_asks() -> None:
    with pytest.raises(
        InvalidCharacter, match=r"name contains an invisible or control character \(U\+200B\) at position 3"
    ):
        clean_tag_name("vi\u200bp")


@pytest.mark.parametrize(
    "name",
    [
        "María José",
        "Zoë O'Brien-Ñúñez",
        "北京客户",
        "عملاء",  # right-to-left letters are text, not overrides
        "VIP 🇨🇴",
        "👍 fans",
        "\uff21\uff43\uff4d\uff45",  # full-width letters are visible: allowed, but they fold to "acme"
        "a\u00a0b",  # a no-break space is a space
        "x\ue000",  # private use
    ],
)
def test_visible_names_are_kept_as_written(name: str) -> None:
    assert refused_character(name) is None
    assert clean_tag_name(f"  {name} ") == name
    assert clean_contact_name(f" {name}  ") == name


def test_blank_contact_names_are_no_name_and_long_ones_are_refused() -> None:
    assert clean_contact_name("   ") is None
    assert clean_contact_name(None) is None
    with pytest.raises(InvalidRequest, match="at most 200 characters"):
        clean_contact_name("x" * 201)


def test_noncharacters_are_the_66_unicode_reserves() -> None:
    assert sum(is_noncharacter(cp) for cp in range(0x110000)) == 66


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("\uff36\uff29\uff30", "vip"),  # full-width capitals
        ("\uff56\uff49\uff50", "VIP"),
        ("Cafe\u0301", "Café"),  # decomposed and precomposed accents
        ("ﬁesta", "FIESTA"),  # ligature
        ("Straße", "STRASSE"),  # casefold
        ("  vip ", "VIP"),
        ("vip\u3000", "vip"),  # an ideographic space is trimmed like any space
        ("Ⅻ clients", "xii CLIENTS"),  # Roman numeral twelve (a compatibility character)
    ],
)
def test_one_key_for_every_spelling_of_a_name(first: str, second: str) -> None:
    assert name_key(first) == name_key(second)
    assert tag_name_key(first) == tag_name_key(second)


def test_different_names_keep_different_keys() -> None:
    assert len({name_key(n) for n in ["vip", "vip2", "v ip", "víp", "VIP club"]}) == 5


@given(st.text(string.printable))
def test_an_ascii_name_keeps_its_former_key(name: str) -> None:
    # Keys stored before this rule were strip().casefold(): for ASCII names nothing changes
    assert name_key(name) == name.strip().casefold()


def test_csv_tags_are_deduplicated_by_the_same_key() -> None:
    assert split_tags("VIP;\uff36\uff29\uff30;vip ;news") == ["VIP", "news"]


def test_the_fix_proposal_removes_only_refused_characters() -> None:
    assert without_refused_characters("vi\u200bp\x00") == "vip"
    assert without_refused_characters("abc\u202egnp.exe") == "abcgnp.exe"
    assert without_refused_characters("\u200b") == ""
