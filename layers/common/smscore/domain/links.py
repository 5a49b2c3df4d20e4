"""Tracked short links: with `trackLinks`, each http(s) URL of a campaign's text becomes a per-recipient short link
`{LinkBaseUrl}/{code}` that answers 302 to the URL and counts the recipient's clicks.

Storage costs one item per (campaign, URL), not one per recipient: the code is

    key (6 base62, random: the link item) + ordinal (4 base62: the message's position in the campaign)
    + tag (5 base62: HMAC-SHA256 of key + ordinal under the link item's own random secret)

so the send writes no item per recipient, and the redirect reads one item by key, checks the tag in constant time
and derives the message id from the ordinal (the ids are derived from the campaign: `message_id_for`, or the plan's
chunks for a planned campaign). A code we did not issue fails the tag (or names no item) and answers 404: the
redirect goes only to URLs our senders wrote, never to one a caller chose (no open redirect).

Pricing: the code has a fixed length and only base62 characters (one GSM-7 unit each, unchanged by every encoding
option), so the text is composed and priced once with a placeholder code of the same length (`shorten`), and the
real codes replace the placeholders once message positions are final (`LinkIssue.fill`): every recipient's
segments are exactly what the preview and the debit counted.

Clicks: a GET from a person records the message's first click (once, conditionally) and adds to its clicks; the
first one also adds to the campaign's unique clicks and emits `message.clicked`. HEAD requests and link previews
(WhatsApp, facebookexternalhit, Slackbot, ...) are redirected but not counted.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

from smscore.domain.events import EventSink, iso, new_event
from smscore.domain.plan import planned_message_id
from smscore.domain.webhooks import EventType

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
KEY_CHARS = 6
ORDINAL_CHARS = 4  # 62^4 = 14,776,336 messages per campaign (MaxRecipients is at most 1,000,000)
TAG_CHARS = 5  # 62^5 = 916,132,832 tags per message: a forged code is refused (404)
CODE_LENGTH = KEY_CHARS + ORDINAL_CHARS + TAG_CHARS
CODE = re.compile(rf"[0-9A-Za-z]{{{CODE_LENGTH}}}")
ROUTE_PREFIX = "/l"  # the short-link route: GET /l/{code}; LinkBaseUrl defaults to the API's own URL + /l
# A URL in the text: http:// or https:// and everything up to a space, a brace or a quote; trailing sentence
# punctuation is not part of it ("Visita https://tienda.co/promo." links to /promo).
_URL = re.compile(r"https?://[^\s{}<>\"]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]'¡¿"
_PLACEHOLDER_FILL = "x"


def _base62(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, digit = divmod(value, 62)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))


def _from_base62(text: str) -> int:
    value = 0
    for char in text:
        value = value * 62 + ALPHABET.index(char)
    return value


def find_urls(message: str) -> list[tuple[int, int, str]]:
    """(start, end, url) of each URL of the message that can be tracked. A URL followed directly by a merge field
    (`https://x.co/?n={nombre}`) is left as written: its target differs per recipient."""
    found: list[tuple[int, int, str]] = []
    for match in _URL.finditer(message):
        url = match.group().rstrip(_TRAILING)
        end = match.start() + len(url)
        if end < len(message) and message[end] == "{":
            continue
        if len(url) > len("https://"):
            found.append((match.start(), end, url))
    return found


def placeholder_code(index: int) -> str:
    """The code the text is priced with for its `index`-th URL: the real codes' length and character class."""
    return _PLACEHOLDER_FILL * (CODE_LENGTH - 2) + _base62(index, 2)


def short_link(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/{code}"


@dataclass(frozen=True)
class Shortened:
    """The message with its URLs replaced by placeholder short links (what is composed and priced)."""

    message: str
    urls: tuple[str, ...]  # distinct, in order of first use; urls[i] has placeholder_code(i)
    base_url: str

    def placeholder(self, index: int) -> str:
        return short_link(self.base_url, placeholder_code(index))


def shorten(message: str, base_url: str) -> Shortened:
    """Every trackable URL of `message` replaced by its placeholder short link (the same URL twice: one link)."""
    urls: list[str] = []
    out: list[str] = []
    position = 0
    for start, end, url in find_urls(message):
        if url not in urls:
            urls.append(url)
        out += [message[position:start], short_link(base_url, placeholder_code(urls.index(url)))]
        position = end
    out.append(message[position:])
    return Shortened("".join(out), tuple(urls), base_url)


def link_tag(secret: str, key: str, ordinal: str) -> str:
    digest = hmac.new(bytes.fromhex(secret), f"{key}{ordinal}".encode(), hashlib.sha256).digest()
    return _base62(int.from_bytes(digest[:8], "big") % 62**TAG_CHARS, TAG_CHARS)


@dataclass(frozen=True)
class TrackedLink:
    """One item per (campaign, URL): where its codes redirect and how an ordinal maps to a message id."""

    key: str
    tenant_id: str
    queue_id: str
    url: str
    secret: str  # hex: the HMAC key of this link's codes (never leaves the table)
    created_at: datetime
    messages: int  # ordinals 0..messages-1 were issued
    plan_prefix: str | None = None  # a planned campaign: ids from its chunks (smscore.domain.plan)
    chunk_sizes: tuple[int, ...] = ()  # messages per plan chunk, in chunk order

    def code(self, ordinal: int) -> str:
        ordinal_text = _base62(ordinal, ORDINAL_CHARS)
        return self.key + ordinal_text + link_tag(self.secret, self.key, ordinal_text)

    def message_id(self, ordinal: int) -> str:
        """The id of the campaign's `ordinal`-th message (the one this ordinal's code was issued to)."""
        if self.plan_prefix is None:
            from smscore.domain.campaign import message_id_for  # campaign imports this module

            return message_id_for(self.queue_id, ordinal)
        for chunk, size in enumerate(self.chunk_sizes):
            if ordinal < size:
                return planned_message_id(self.plan_prefix, chunk, ordinal)
            ordinal -= size
        raise ValueError("ordinal beyond the plan")

    def location(self) -> str:
        """The Location header: the URL as written, non-ASCII characters percent-encoded."""
        return quote(self.url, safe=":/?#[]@!$&'()*+,;=%~-._")


def new_key() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(KEY_CHARS))


@dataclass
class LinkIssue:
    """The campaign's links (one per URL), and each message's codes in place of the placeholders."""

    shortened: Shortened
    links: list[TrackedLink] = field(default_factory=list)

    @classmethod
    def new(cls, shortened: Shortened, tenant_id: str, queue_id: str, created_at: datetime, messages: int) -> LinkIssue:
        links = [
            TrackedLink(
                key=new_key(),
                tenant_id=tenant_id,
                queue_id=queue_id,
                url=url,
                secret=secrets.token_hex(32),
                created_at=created_at,
                messages=messages,
            )
            for url in shortened.urls
        ]
        return cls(shortened, links)

    def fill(self, text: str, ordinal: int) -> str:
        """The text of the `ordinal`-th message with its own codes; the same length as the priced text."""
        for index, link in enumerate(self.links):
            text = text.replace(
                self.shortened.placeholder(index), short_link(self.shortened.base_url, link.code(ordinal))
            )
        return text

    def with_ids(self, message_ids: Sequence[str], plan_prefix: str | None) -> list[TrackedLink]:
        """The links as stored: a planned campaign's carry its chunk sizes (read from the ids)."""
        if plan_prefix is None:
            return list(self.links)
        from smscore.domain.plan import parse_planned_id

        sizes: dict[int, int] = {}
        for message_id in message_ids:
            parsed = parse_planned_id(message_id)
            assert parsed is not None
            sizes[parsed.chunk] = sizes.get(parsed.chunk, 0) + 1
        chunk_sizes = tuple(sizes[number] for number in sorted(sizes))
        return [replace(link, plan_prefix=plan_prefix, chunk_sizes=chunk_sizes) for link in self.links]


# ---------------------------------------------------------------------------------------------- clicks

# Link previews and crawlers that fetch a URL when it is shared or scanned, never a person clicking.
PREVIEW_AGENTS = (
    "whatsapp",
    "facebookexternalhit",
    "facebookcatalog",
    "facebot",
    "slackbot",
    "slack-imgproxy",
    "twitterbot",
    "telegrambot",
    "googlebot",
    "google-inspectiontool",
    "adsbot-google",
    "bingbot",
    "bingpreview",
    "linkedinbot",
    "discordbot",
    "skypeuripreview",
    "applebot",
    "pinterest",
    "redditbot",
    "embedly",
    "yandexbot",
    "duckduckbot",
    "baiduspider",
    "viber",
    "snapchat",
    "iframely",
    "outlook",
    "microsoftpreview",
    "mastodon",
)


def is_preview(method: str, user_agent: str | None) -> bool:
    """A HEAD request, or a known link preview / crawler: redirected, never counted."""
    if method.upper() == "HEAD":
        return True
    agent = (user_agent or "").lower()
    return any(name in agent for name in PREVIEW_AGENTS)


@dataclass(frozen=True)
class ClickRecorded:
    first: bool  # this was the message's first counted click
    clicks: int  # the message's clicks after this one
    first_clicked_at: datetime | None  # this click's time when it was the first (None otherwise: not read back)
    recipient: str  # the message's number when it was the first click ("" otherwise)


class LinkStore(Protocol):
    def put_links(self, links: Sequence[TrackedLink], expires_at: datetime | None) -> None:
        """Write each link item if its key is free (LinkKeyTaken otherwise: nothing of that link written)."""
        ...

    def get_link(self, key: str) -> TrackedLink | None: ...

    def record_click(self, queue_id: str, message_id: str, at: datetime) -> ClickRecorded | None:
        """One conditional update of the message (of this campaign): first click if absent, clicks + 1; on the
        first, one ADD to the campaign's unique clicks. None when the message is not (or no longer) stored."""
        ...


class LinkKeyTaken(Exception):
    """A freshly drawn link key already names an item (1 in 56 billion per link): the send is refused unpaid."""


@dataclass(frozen=True)
class Redirect:
    location: str
    counted: bool  # a click was recorded
    first: bool = False


def parse_code(code: str) -> tuple[str, str, str] | None:
    if not CODE.fullmatch(code):
        return None
    return code[:KEY_CHARS], code[KEY_CHARS : KEY_CHARS + ORDINAL_CHARS], code[KEY_CHARS + ORDINAL_CHARS :]


def clicked_event(link: TrackedLink, message_id: str, click: ClickRecorded) -> Any:
    assert click.first_clicked_at is not None
    data = {
        "messageId": message_id,
        "queueId": link.queue_id,
        "recipient": click.recipient,
        "url": link.url,
        "firstClickedAt": iso(click.first_clicked_at),
    }
    return new_event(EventType.MESSAGE_CLICKED, link.tenant_id, message_id, click.first_clicked_at, data)


def follow(
    code: str,
    method: str,
    user_agent: str | None,
    store: LinkStore,
    sink: EventSink,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Redirect | None:
    """Where a short link goes (None: not a code we issued, 404), recording a person's click on the way."""
    parts = parse_code(code)
    if parts is None:
        return None
    key, ordinal_text, tag = parts
    link = store.get_link(key)
    if link is None or not hmac.compare_digest(link_tag(link.secret, key, ordinal_text), tag):
        return None
    ordinal = _from_base62(ordinal_text)
    if ordinal >= link.messages:
        return None
    if is_preview(method, user_agent):
        return Redirect(link.location(), counted=False)
    message_id = link.message_id(ordinal)
    click = store.record_click(link.queue_id, message_id, now())
    if click is None:
        return Redirect(link.location(), counted=False)
    if click.first:
        sink.publish([clicked_event(link, message_id, click)])
    return Redirect(link.location(), counted=True, first=click.first)


def click_rate(unique_clicks: int, messages: int) -> float | None:
    """Unique clicks / messages sent with links; None for a campaign without messages."""
    return round(unique_clicks / messages, 4) if messages else None
