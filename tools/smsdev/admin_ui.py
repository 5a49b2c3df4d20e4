"""The admin SPA (`admin/`) as the local stack serves it: at `/admin/`, on the API's own origin.

Same origin as the API, as on AWS (CloudFront serves the files from S3 and routes `/api/*` to API Gateway), so the
page calls `/api/...` with no CORS. Only files inside `admin/` are served; `/admin` redirects to `/admin/` so the
page's relative URLs resolve. The headers match the template's CloudFront response headers policy.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from werkzeug.security import safe_join
from werkzeug.wrappers import Request, Response

from smsdev.template import ROOT

ADMIN_DIR = ROOT / "admin" / "site"  # admin/publish.py beside it is the AWS publisher, never served
ADMIN_PREFIX = "/admin"
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}
# What the page may load and call: its own origin only (the API is on it), plus https for presigned S3 uploads.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; connect-src 'self' https: http://127.0.0.1:*; img-src 'self' data:; "
    "style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}


def is_admin_path(path: str) -> bool:
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


def admin_response(path: str, directory: Path = ADMIN_DIR) -> Response:
    """The file for `/admin/...` (index.html for the folder), 404 for anything else, never outside `admin/`."""
    if path == ADMIN_PREFIX:
        return Response(status=301, headers={"Location": ADMIN_PREFIX + "/"})
    relative = path[len(ADMIN_PREFIX) + 1 :] or "index.html"
    found = safe_join(str(directory), relative)
    if found is None or not Path(found).is_file():
        return Response("Not found", status=404, content_type="text/plain")
    file = Path(found)
    content_type = CONTENT_TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    return Response(file.read_bytes(), status=200, content_type=content_type, headers=SECURITY_HEADERS)


def serve_admin(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """WSGI app for GET/HEAD under /admin."""
    request = Request(environ)
    if request.method not in ("GET", "HEAD"):
        return Response("Method not allowed", status=405, headers={"Allow": "GET, HEAD"})(environ, start_response)
    return admin_response(request.path)(environ, start_response)
