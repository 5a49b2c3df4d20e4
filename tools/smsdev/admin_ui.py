"""The admin SPA (`admin/`) as the local stack serves it: at `/admin/`, on the API's own origin.

Same origin as the API, as on AWS (CloudFront serves the files from S3 and routes `/api/*` to API Gateway), so the
page calls `/api/...` with no CORS. Only files inside `admin/` are served; `/admin` redirects to `/admin/` so the
page's relative URLs resolve. The headers are the template's CloudFront response headers policy, read from
template.yaml, the CSP exactly but for where presigned uploads go (`security_headers`).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from werkzeug.security import safe_join
from werkzeug.wrappers import Request, Response

from smsdev.template import ROOT, load_template

ADMIN_DIR = ROOT / "admin" / "site"  # admin/publish.py beside it is the AWS publisher, never served
ADMIN_PREFIX = "/admin"
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}
# Where the page PUTs large CSVs (presigned S3 URLs) on AWS; on the local stack, the emulator's endpoint instead.
AWS_UPLOAD_SOURCE = "https://*.amazonaws.com"


@cache
def template_security_headers() -> dict[str, str]:
    """The headers of template.yaml's CloudFront response headers policy for the admin site (one source of truth).

    Strict-Transport-Security is left out: the local stack serves plain http, where browsers ignore it.
    """
    resource = load_template()["Resources"]["AdminSiteHeadersPolicy"]
    config = resource["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    return {
        "Content-Security-Policy": str(config["ContentSecurityPolicy"]["ContentSecurityPolicy"]),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": str(config["ReferrerPolicy"]["ReferrerPolicy"]),
        "X-Frame-Options": str(config["FrameOptions"]["FrameOption"]),
    }


def security_headers(aws_endpoint: str | None = None) -> dict[str, str]:
    """The template's headers, with the AWS upload source of the CSP played by `aws_endpoint` when given (the local
    stack's emulator, where presigned upload URLs point); nothing else of the policy changes."""
    headers = {**template_security_headers(), "Cache-Control": "no-cache"}
    if aws_endpoint is not None:
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(aws_endpoint))
        headers["Content-Security-Policy"] = headers["Content-Security-Policy"].replace(AWS_UPLOAD_SOURCE, origin)
    return headers


def is_admin_path(path: str) -> bool:
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


def admin_response(path: str, directory: Path = ADMIN_DIR, aws_endpoint: str | None = None) -> Response:
    """The file for `/admin/...` (index.html for the folder), 404 for anything else, never outside `admin/`; with
    the template's security headers (`security_headers`)."""
    if path == ADMIN_PREFIX:
        return Response(status=301, headers={"Location": ADMIN_PREFIX + "/"})
    relative = path[len(ADMIN_PREFIX) + 1 :] or "index.html"
    found = safe_join(str(directory), relative)
    if found is None or not Path(found).is_file():
        return Response("Not found", status=404, content_type="text/plain")
    file = Path(found)
    content_type = CONTENT_TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    headers = security_headers(aws_endpoint)
    return Response(file.read_bytes(), status=200, content_type=content_type, headers=headers)


def serve_admin(
    environ: dict[str, Any], start_response: Callable[..., Any], aws_endpoint: str | None = None
) -> Iterable[bytes]:
    """WSGI app for GET/HEAD under /admin (`aws_endpoint`: the local stack's, see `security_headers`)."""
    request = Request(environ)
    if request.method not in ("GET", "HEAD"):
        return Response("Method not allowed", status=405, headers={"Allow": "GET, HEAD"})(environ, start_response)
    return admin_response(request.path, aws_endpoint=aws_endpoint)(environ, start_response)
