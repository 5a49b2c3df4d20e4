"""A werkzeug WSGI server on a background thread: what the local AWS endpoint and the local API share."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server


class BackgroundServer:
    """Serves `app` on http://host:port (port 0 picks a free one) from a daemon thread, one thread per request."""

    def __init__(self, port: int, host: str = "127.0.0.1", name: str = "wsgi") -> None:
        self.host = host
        self.port = port
        self._name = name
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def serve(self, app: Callable[..., Any], **options: Any) -> None:
        self._server = make_server(self.host, self.port, app, threaded=True, **options)
        self.port = self._server.server_port  # the real one when port 0 asked for any free port
        self._thread = threading.Thread(target=self._server.serve_forever, name=self._name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
