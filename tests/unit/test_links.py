"""Tracked short links, the pure parts: which URLs are tracked, the priced placeholder, the codes, the ids they
map to, and who counts as a person."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from smscore.domain.campaign import message_id_for
from smscore.domain.gsm import EncodingOption, encode
from smscore.domain.links import (
    CODE_LENGTH,
    LinkIssue,
    TrackedLink,
    find_urls,
    follow,
    is_preview,
    parse_code,
    shorten,
)
from smscore.domain.plan import planned_ids
from smscore.domain.segments import count_segments

BASE = "https://go.example.co/l"
AT = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "urls"),
    [
        ("Visita https://tienda.co/promo.", ["https://tienda.co/promo"]),
        ("¿Ya viste http://x.co/a?b=1&c=2!", ["http://x.co/a?b=1&c=2"]),
        ("(https://x.co/p) y HTTPS://Y.CO/q,", ["https://x.co/p", "HTTPS://Y.CO/q"]),
        ("https://x.co/?n={nombre} es tuyo", []),  # its target differs per recipient: left as written
        ("sin enlaces, www.x.co no es http", []),
        ("https:// solo", []),
    ],
)
def test_which_urls_are_tracked(text: str, urls: list[str]) -> None:
    assert [url for _s, _e, url in find_urls(text)] == urls


def test_the_placeholder_has_the_codes_length_and_prices_like_them() -> None:
    # Given a text with one URL twice and another once
    shortened = shorten("Hola https://a.co/x y https://b.co/y, otra vez https://a.co/x", BASE)
    assert shortened.urls == ("https://a.co/x", "https://b.co/y")
    placeholder = shortened.placeholder(0)
    assert len(placeholder) == len(BASE) + 1 + CODE_LENGTH
    # When real codes are filled in for message 7
    issue = LinkIssue.new(shortened, "t", "q", AT, messages=10)
    filled = issue.fill(shortened.message, 7)
    # Then the text keeps its length and segments under every encoding option
    assert len(filled) == len(shortened.message)
    for option in EncodingOption:
        assert count_segments(encode(filled, option)) == count_segments(encode(shortened.message, option))
    # And both occurrences of the first URL carry the same code, the second URL another
    first, second = issue.links[0].code(7), issue.links[1].code(7)
    assert filled.count(first) == 2
    assert filled.count(second) == 1
    assert first != second


def test_codes_are_unique_per_message_and_check_their_tag() -> None:
    link = LinkIssue.new(shorten("https://a.co", BASE), "t", "q", AT, messages=1000).links[0]
    codes = {link.code(n) for n in range(1000)}
    assert len(codes) == 1000
    assert all(len(c) == CODE_LENGTH and parse_code(c) is not None for c in codes)
    assert parse_code("x" * (CODE_LENGTH - 1)) is None
    assert parse_code("-" * CODE_LENGTH) is None


def test_an_ordinal_maps_to_the_message_id_the_send_gave_it() -> None:
    # Inline campaigns: ids derive from the queue id and the position
    inline = TrackedLink("k", "t", "q1", "https://a.co", "00" * 32, AT, messages=3)
    assert [inline.message_id(n) for n in range(3)] == [message_id_for("q1", n) for n in range(3)]
    # Planned campaigns: from the plan's chunks, as planned_ids numbers them
    bodies = [f"texto {n} " + "y" * (n % 300) for n in range(2500)]
    ids = planned_ids("0123456789abcdef0123", bodies)
    issue = LinkIssue.new(shorten("https://a.co", BASE), "t", "q2", AT, messages=len(ids))
    (planned,) = issue.with_ids(ids, "0123456789abcdef0123")
    assert len(planned.chunk_sizes) > 1
    assert [planned.message_id(n) for n in (0, 999, 1000, 1700, 2499)] == [ids[n] for n in (0, 999, 1000, 1700, 2499)]


@pytest.mark.parametrize(
    ("method", "agent", "preview"),
    [
        ("GET", "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/120 Mobile Safari/537.36", False),
        ("GET", None, False),
        ("HEAD", "Mozilla/5.0", True),
        ("GET", "WhatsApp/2.23.20.0 A", True),
        ("GET", "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", True),
        ("GET", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", True),
        ("GET", "Twitterbot/1.0", True),
        ("GET", "TelegramBot (like TwitterBot)", True),
        ("GET", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", True),
    ],
)
def test_heads_and_link_previews_are_not_people(method: str, agent: str | None, preview: bool) -> None:
    assert is_preview(method, agent) is preview


class _Store:
    def __init__(self, link: TrackedLink) -> None:
        self.link = link
        self.clicks: list[str] = []

    def put_links(self, links: object, expires_at: object) -> None:
        raise AssertionError("not called")

    def get_link(self, key: str) -> TrackedLink | None:
        return self.link if key == self.link.key else None

    def record_click(self, queue_id: str, message_id: str, at: datetime) -> None:
        self.clicks.append(message_id)


class _Sink:
    def publish(self, events: object) -> None:
        raise AssertionError("nothing to publish")


def test_follow_redirects_only_codes_of_issued_messages() -> None:
    link = LinkIssue.new(shorten("https://a.co/ñ", BASE), "t", "q", AT, messages=2).links[0]
    store = _Store(link)
    # A real code: redirected (the URL percent-encoded), counted for its own message
    redirect = follow(link.code(1), "GET", "Mozilla/5.0", store, _Sink())
    assert redirect is not None
    assert redirect.location == "https://a.co/%C3%B1"
    assert store.clicks == [message_id_for("q", 1)]
    # A code for an ordinal beyond the campaign, though correctly tagged: refused
    assert follow(link.code(2), "GET", "Mozilla/5.0", store, _Sink()) is None
    # A preview: redirected, not counted
    preview = follow(link.code(0), "GET", "WhatsApp/2", store, _Sink())
    assert preview is not None
    assert not preview.counted
    assert store.clicks == [message_id_for("q", 1)]
