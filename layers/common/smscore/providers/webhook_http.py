"""The one way a webhook leaves: a POST to a public address, pinned to the address that was checked.

SSRF protection (smscore.domain.webhooks.address_refusal): the host is resolved once and every address it has
must be public; the connection goes to the first of them (pinned: the host is never resolved again, so DNS
rebinding between the check and the connect cannot move it), and the connected peer is checked again before a
byte is sent. TLS still verifies the certificate against the host name (SNI), and the Host header names it.
Redirects are not followed (http.client never does), at most 1 KB of the answer is read, and each network step
has the 5 s timeout.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime

from smscore.domain.errors import InvalidRequest
from smscore.domain.webhooks import MAX_RESPONSE_BYTES, TIMEOUT_SECONDS, Attempt, address_refusal, parse_url

Resolver = Callable[[str, int], list[str]]
Connector = Callable[[str, int, float], socket.socket]


def system_resolver(host: str, port: int) -> list[str]:
    return list(dict.fromkeys(str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)))


def tcp_connect(ip: str, port: int, timeout: float) -> socket.socket:
    return socket.create_connection((ip, port), timeout=timeout)


class RefusedPeer(Exception):
    """The connected peer is not an address we may call."""


def _checked(connect: Connector, ip: str, port: int, timeout: float, allow_loopback: bool) -> socket.socket:
    sock = connect(ip, port, timeout)
    peer = str(sock.getpeername()[0])
    why = address_refusal(peer, allow_loopback)
    if why is not None:
        sock.close()
        raise RefusedPeer(f"connected peer is {why}")
    return sock


class _PinnedHttps(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, ip: str, connect: Connector, allow_loopback: bool, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._ip, self._connector, self._allow_loopback = ip, connect, allow_loopback

    def connect(self) -> None:
        sock = _checked(
            self._connector, self._ip, self.port, float(self.timeout or TIMEOUT_SECONDS), self._allow_loopback
        )
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class _PinnedHttp(http.client.HTTPConnection):
    """Only for http://127.0.0.1 with WebhooksAllowLoopback (the local stack)."""

    def __init__(self, host: str, port: int, ip: str, connect: Connector, allow_loopback: bool, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._ip, self._connector, self._allow_loopback = ip, connect, allow_loopback

    def connect(self) -> None:
        self.sock = _checked(
            self._connector, self._ip, self.port, float(self.timeout or TIMEOUT_SECONDS), self._allow_loopback
        )


class SafePoster:
    def __init__(
        self,
        allow_loopback: bool = False,
        resolver: Resolver = system_resolver,
        connector: Connector = tcp_connect,
        timeout_seconds: float = TIMEOUT_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._allow_loopback = allow_loopback
        self._resolve = resolver
        self._connect = connector
        self._timeout = timeout_seconds
        self._monotonic = monotonic
        self._now = now

    def post(self, url: str, headers: dict[str, str], body: bytes) -> Attempt:
        at, started = self._now(), self._monotonic()

        def failed(error: str, status: int | None = None, response: str | None = None) -> Attempt:
            latency = int((self._monotonic() - started) * 1000)
            return Attempt(at=at, status_code=status, latency_ms=latency, error=error, response=response)

        try:
            target = parse_url(url, self._allow_loopback)
        except InvalidRequest as exc:
            return failed(f"refused URL: {exc.message}")
        try:
            addresses = self._resolve(target.host, target.port)
        except (OSError, UnicodeError):
            return failed("the host name did not resolve")
        if not addresses:
            return failed("the host name did not resolve")
        refusals = [why for a in addresses if (why := address_refusal(a, self._allow_loopback)) is not None]
        if refusals:
            return failed(f"refused address: the host resolves to {refusals[0]}")
        kind = _PinnedHttps if target.scheme == "https" else _PinnedHttp
        connection = kind(target.host, target.port, addresses[0], self._connect, self._allow_loopback, self._timeout)
        try:
            connection.request("POST", target.path, body=body, headers=headers)
            answer = connection.getresponse()
            status, data = answer.status, answer.read(MAX_RESPONSE_BYTES)
        except RefusedPeer as exc:
            return failed(f"refused address: {exc}")
        except TimeoutError:
            return failed(f"no answer within {self._timeout:g} s")
        except (OSError, http.client.HTTPException) as exc:
            return failed(f"connection failed ({type(exc).__name__})")
        finally:
            connection.close()
        latency = int((self._monotonic() - started) * 1000)
        text = data.decode("utf-8", "replace")
        if latency > self._timeout * 1000:
            return Attempt(at, status, latency, f"answered after more than {self._timeout:g} s", text)
        error = (
            None
            if 200 <= status < 300
            else f"HTTP {status} (redirects are not followed)"
            if 300 <= status < 400
            else None
        )
        return Attempt(at=at, status_code=status, latency_ms=latency, error=error, response=text)
