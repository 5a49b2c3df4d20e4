"""Webhooks out, the rules without I/O: signatures (and the docs' verification example), the backoff schedule,
which addresses may be called, and the pinned connection that DNS rebinding cannot move."""

from __future__ import annotations

import random
import re
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from smscore.domain.errors import InvalidRequest
from smscore.domain.webhooks import (
    BACKOFF_STEP_CAP,
    RETRY_WINDOW,
    Endpoint,
    EventType,
    address_refusal,
    backoff_delay,
    new_secret,
    next_attempt_at,
    parse_url,
    signature,
    signature_header,
    verify,
)
from smscore.providers.webhook_http import SafePoster

DOCS = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"
T = 1_765_000_000
BODY = b'{"id":"e1","type":"message.sent","createdAt":"2026-12-06T10:00:00.000Z","tenantId":"t1","data":{}}'


def documented_verifier() -> Any:
    """The Python block of docs/integrations.md#verifying-a-signature, run as a reader would paste it."""
    section = DOCS.read_text().split("### Verifying a signature", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert code is not None
    lines = [line for line in code.group(1).splitlines() if line.strip()]
    assert len(lines) <= 10, "the example promised ten lines"
    namespace: dict[str, Any] = {}
    exec(code.group(1), namespace)  # noqa: S102 - our own documentation, checked to run
    return namespace["verify_signature"]


# ---------------------------------------------------------------------------------------------- signatures


def test_the_signature_is_the_hex_hmac_sha256_of_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    secret = "whsec_test"
    expected = hmac.new(b"whsec_test", f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert signature(secret, T, BODY) == expected
    assert signature_header([secret], T, BODY) == f"t={T},v1={expected}"


def test_the_documented_example_accepts_our_signatures_and_refuses_tampering() -> None:
    verify_signature = documented_verifier()
    secret = new_secret()
    header = signature_header([secret], T, BODY)
    assert verify_signature(header, BODY, secret, now=T + 10) is True
    assert verify_signature(header, BODY + b" ", secret, now=T) is False  # body changed
    assert verify_signature(header, BODY, new_secret(), now=T) is False  # another secret
    assert verify_signature(header, BODY, secret, now=T + 301) is False  # too old: a replay
    assert verify_signature(header.replace(f"t={T}", f"t={T + 1}"), BODY, secret, now=T) is False
    assert verify_signature("garbage", BODY, secret, now=T) is False


def test_during_a_rotation_both_secrets_verify_and_the_old_one_stops_after_24_hours() -> None:
    verify_signature = documented_verifier()
    now = datetime(2026, 12, 6, 10, tzinfo=UTC)
    old, new = new_secret(), new_secret()
    endpoint = Endpoint(
        endpoint_id="e",
        tenant_id="t",
        url="https://x.example",
        events=frozenset({EventType.MESSAGE_SENT}),
        description="",
        enabled=True,
        secret=new,
        created_at=now,
        previous_secret=old,
        previous_secret_expires_at=now + timedelta(hours=24),
    )
    header = signature_header(endpoint.secrets_in_force(now), T, BODY)
    assert verify_signature(header, BODY, new, now=T)
    assert verify_signature(header, BODY, old, now=T)
    assert verify(header, BODY, old, now=T)
    assert verify(header, BODY, new, now=T)
    later = signature_header(endpoint.secrets_in_force(now + timedelta(hours=24)), T, BODY)
    assert verify_signature(later, BODY, new, now=T)
    assert not verify_signature(later, BODY, old, now=T)


# ---------------------------------------------------------------------------------------------- backoff


def test_the_backoff_doubles_with_jitter_and_each_step_is_capped() -> None:
    rng = random.Random(7)
    for failures, ceiling in [(1, 30), (2, 60), (3, 120), (4, 240), (12, BACKOFF_STEP_CAP.total_seconds())]:
        delays = [backoff_delay(failures, rng) for _ in range(200)]
        assert ceiling / 2 <= min(delays)
        assert max(delays) <= ceiling
        assert len({round(d, 3) for d in delays}) > 100  # jittered, not one instant for everyone


def test_retries_stop_24_hours_after_the_first_attempt() -> None:
    rng = random.Random(1)
    first = now = datetime(2026, 12, 6, tzinfo=UTC)
    schedule = []
    failures = 1
    while (at := next_attempt_at(first, failures, now, rng)) is not None:
        schedule.append(at)
        now, failures = at, failures + 1
    assert schedule == sorted(schedule)
    assert schedule[-1] - first <= RETRY_WINDOW
    assert 10 <= len(schedule) <= 16  # about 14 attempts over the day with a 30 s base
    assert RETRY_WINDOW - (schedule[-1] - first) < BACKOFF_STEP_CAP  # the last one falls in the day's last step


# ---------------------------------------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.8.8",
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.1",
        "100.64.0.1",  # CGNAT
        "169.254.169.254",  # AWS/GCP/Azure metadata
        "169.254.170.2",  # ECS task metadata
        "0.0.0.0",  # noqa: S104 - an address we refuse, not one we bind
        "224.0.0.1",
        "255.255.255.255",
        "192.0.2.10",  # documentation
        "::1",
        "::",
        "fe80::1",
        "fe80::1%eth0",
        "fc00::1",
        "fd00:ec2::254",  # AWS metadata over IPv6
        "ff02::1",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "2002:a00:1::",  # 6to4 of 10.0.0.1
        "not-an-ip",
    ],
)
def test_private_loopback_link_local_and_metadata_addresses_are_refused(address: str) -> None:
    assert address_refusal(address) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_may_be_called(address: str) -> None:
    assert address_refusal(address) is None


def test_the_local_stacks_exception_admits_127_0_0_1_only() -> None:
    assert address_refusal("127.0.0.1", allow_loopback=True) is None
    for other in ("127.0.0.2", "::1", "::ffff:127.0.0.1", "10.0.0.1", "169.254.169.254"):
        assert address_refusal(other, allow_loopback=True) is not None


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "ftp://example.com/",
        "https://user:pw@example.com/",
        "https://127.0.0.1/hook",
        "https://[::1]/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://localhost/hook",
        "https://metadata.google.internal/",
        "https://example.com/a#frag",
        "https://exa mple.com/",
        "https:///nohost",
        "https://example.com:99999/",
        "http://127.0.0.1:8080/hook",  # only with the local stack's exception
    ],
)
def test_endpoint_urls_that_are_not_https_on_a_public_host_are_refused(url: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_url(url)


def test_an_https_url_keeps_its_path_and_query_and_http_loopback_needs_the_exception() -> None:
    target = parse_url("https://Hooks.Example.com:8443/sms/events?x=1")
    assert (target.scheme, target.host, target.port, target.path) == (
        "https",
        "hooks.example.com",
        8443,
        "/sms/events?x=1",
    )
    assert parse_url("http://127.0.0.1:9000/hook", allow_loopback=True).port == 9000
    with pytest.raises(InvalidRequest):
        parse_url("http://10.0.0.1:9000/hook", allow_loopback=True)


# ---------------------------------------------------------------------------------------------- the connection


class Resolver:
    """Answers a public address first and a private one afterwards: DNS rebinding."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls += 1
        return self.answers[min(self.calls, len(self.answers)) - 1]


def test_dns_rebinding_between_check_and_connect_cannot_move_the_connection() -> None:
    resolver = Resolver(["93.184.216.34"], ["127.0.0.1"])
    connected: list[tuple[str, int]] = []

    def connector(ip: str, port: int, timeout: float) -> socket.socket:
        connected.append((ip, port))
        raise ConnectionRefusedError("test: no network")

    attempt = SafePoster(resolver=resolver, connector=connector).post("https://rebind.example/hook", {}, BODY)
    # The host was resolved once, and the connection went to the address that was checked
    assert resolver.calls == 1
    assert connected == [("93.184.216.34", 443)]
    assert attempt.status_code is None
    assert attempt.error is not None


def test_a_host_with_any_private_address_is_refused_before_connecting() -> None:
    connected: list[str] = []

    def connector(ip: str, port: int, timeout: float) -> socket.socket:
        connected.append(ip)
        raise AssertionError("must not connect")

    for answer in (["10.0.0.7"], ["93.184.216.34", "169.254.169.254"], ["::ffff:192.168.0.1"]):
        attempt = SafePoster(resolver=Resolver(answer), connector=connector).post("https://x.example/", {}, BODY)
        assert attempt.error is not None
        assert attempt.error.startswith("refused address")
    assert connected == []


def test_the_connected_peer_is_checked_again() -> None:
    """The resolver said public, but the socket ends up at a loopback peer (a proxy, a NAT, a rebinding inside
    the resolver library): nothing is sent."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]

    def connector(ip: str, _port: int, timeout: float) -> socket.socket:
        return socket.create_connection(("127.0.0.1", port), timeout=timeout)

    try:
        attempt = SafePoster(resolver=Resolver(["93.184.216.34"]), connector=connector).post(
            "https://x.example/", {}, BODY
        )
    finally:
        server.close()
    assert attempt.status_code is None
    assert attempt.error == "refused address: connected peer is a loopback address"
