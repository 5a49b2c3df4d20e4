"""A fake Twilio REST API on 127.0.0.1 that speaks the real request and response shapes of message creation.

POST /2010-04-01/Accounts/{AccountSid}/Messages.json, HTTP Basic auth, form-encoded To, Body and
MessagingServiceSid or From (StatusCallback optional). Replies as Twilio does: 201 with the Message resource
(`sid` SM..., `status` accepted/queued, `price` null, `error_code` null), or an error body
{"code", "message", "more_info", "status"}.

Behaviour by `To`, like Twilio's own test credentials' magic numbers:
    +15005550001  400, code 21211 (invalid 'To' number)
    +15005550004  400, code 21610 (unsubscribed recipient)
Anything else is accepted after `latency_ms`, unless scripted with `script(to, ...)`: a queue of replies
(429, 500, 503 or "hang" = answer only after `hang_seconds`, i.e. a client timeout) consumed one per request.

Also usable outside pytest (e.g. by the benchmark): `with FakeTwilio(latency_ms=50) as fake: fake.url`.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "fake-auth-token"  # noqa: S105 - the fake server's own test credential
MESSAGING_SERVICE_SID = "MG" + "0" * 31 + "1"
INVALID_NUMBER = "+15005550001"
UNSUBSCRIBED_NUMBER = "+15005550004"

ERRORS: dict[int, tuple[int, str]] = {
    21211: (400, "The 'To' number is not a valid phone number."),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    20003: (401, "Authentication Error - invalid username"),
    20429: (429, "Too Many Requests"),
    20500: (500, "Internal Server Error"),
    20503: (503, "Service Unavailable"),
}
SCRIPTED_CODES = {429: 20429, 500: 20500, 503: 20503}


@dataclass
class ReceivedRequest:
    path: str
    form: dict[str, str]
    authorization: str | None


@dataclass
class FakeTwilio:
    latency_ms: int = 0
    hang_seconds: float = 2.0
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    # (SK..., secret): also accepted, as Twilio accepts an API key of the account instead of its Auth Token
    api_key: tuple[str, str] | None = None
    requests: list[ReceivedRequest] = field(default_factory=list)
    _scripts: dict[str, deque[int | str]] = field(default_factory=lambda: defaultdict(deque))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    # -- control -----------------------------------------------------------------------------------------

    def script(self, to: str, *replies: int | str) -> None:
        """Next replies for `to`, one per request: 429, 500, 503 or "hang"; then back to normal."""
        with self._lock:
            self._scripts[to].extend(replies)

    def sends_to(self, to: str) -> list[ReceivedRequest]:
        """Requests Twilio accepted (answered 201) for this number."""
        with self._lock:
            return [r for r in self.requests if r.form.get("To") == to and r.form.get("_accepted") == "1"]

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeTwilio:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the real API
            # Headers and body go out in two writes; without TCP_NODELAY, Nagle and the client's delayed ACK
            # add ~40 ms to every reply, a latency the real API does not have.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                # Not Twilio's: what this fake received, for a benchmark running it in another process.
                if self.path != "/__fake/requests":
                    self.send_error(404)
                    return
                with fake._lock:
                    payload = json.dumps([r.form.get("To", "") for r in fake.requests]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length).decode()
                form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
                status, body = fake._answer(self.path, form, self.headers.get("Authorization"))
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- behaviour ---------------------------------------------------------------------------------------

    def _error(self, code: int) -> tuple[int, dict[str, Any]]:
        status, message = ERRORS[code]
        return status, {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }

    def _answer(self, path: str, form: dict[str, str], authorization: str | None) -> tuple[int, dict[str, Any]]:
        received = ReceivedRequest(path=path, form=dict(form), authorization=authorization)
        with self._lock:
            self.requests.append(received)
            scripted = self._scripts[form.get("To", "")].popleft() if self._scripts.get(form.get("To", "")) else None
        accepted = [(self.account_sid, self.auth_token), *([self.api_key] if self.api_key else [])]
        expected_auth = {"Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode() for user, secret in accepted}
        if path != f"/2010-04-01/Accounts/{self.account_sid}/Messages.json":
            return 404, {"code": 20404, "message": "The requested resource was not found", "status": 404}
        if authorization not in expected_auth:
            return self._error(20003)
        if scripted == "hang":
            time.sleep(self.hang_seconds)
        elif isinstance(scripted, int):
            return self._error(SCRIPTED_CODES[scripted])
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        to = form.get("To", "")
        if not to or "Body" not in form or not (form.get("MessagingServiceSid") or form.get("From")):
            return 400, {"code": 21604, "message": "A 'To' phone number is required.", "status": 400}
        if to == INVALID_NUMBER:
            return self._error(21211)
        if to == UNSUBSCRIBED_NUMBER:
            return self._error(21610)
        received.form["_accepted"] = "1"
        service = form.get("MessagingServiceSid")
        return 201, {
            "sid": "SM" + uuid.uuid4().hex,
            "account_sid": self.account_sid,
            "messaging_service_sid": service,
            "to": to,
            "from": form.get("From"),
            "body": form["Body"],
            "status": "accepted" if service else "queued",
            "num_segments": "0" if service else "1",
            "direction": "outbound-api",
            "price": None,
            "price_unit": "USD",
            "error_code": None,
            "error_message": None,
            "date_created": formatdate(usegmt=True),
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/SM.json",
        }


def main(argv: list[str] | None = None) -> None:
    """Serve the fake in its own process (a provider's latency should not compete for the client's GIL)."""
    import argparse
    import contextlib
    import signal
    import sys

    parser = argparse.ArgumentParser(description="A fake Twilio Messages API on 127.0.0.1")
    parser.add_argument("--latency-ms", type=int, default=0)
    args = parser.parse_args(argv)
    fake = FakeTwilio(latency_ms=args.latency_ms).start()
    print(fake.url, flush=True)
    from smsdev.stop_signals import StopSignals

    stop = StopSignals(signal.SIGTERM)
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    fake.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
