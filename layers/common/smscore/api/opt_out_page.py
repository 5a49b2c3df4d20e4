"""The opt-out link's page (GET/POST {LinkBaseUrl}/o/{code}): small, Spanish first and English second, one button.

Plain HTML with its style inline: no script (it works with JavaScript off: a form that posts to its own URL), no
third-party asset, no cookie, no tracking; the Content-Security-Policy allows nothing else to load. GET only shows
the button (link previews and scanners fetch links: a GET must never opt anyone out); POST does it.
"""

from __future__ import annotations

from html import escape

from smscore.domain.masking import mask

HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
}

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:0 1rem;
background:#f4f5f7;color:#1d2330}
main{max-width:28rem;margin:3rem auto;padding:1.5rem;background:#fff;border-radius:12px;
box-shadow:0 1px 4px rgba(0,0,0,.12)}
h1{font-size:1.35rem;margin:0 0 .75rem}
p{line-height:1.5;margin:.5rem 0}
.en{color:#4a5263;font-size:.92rem;border-top:1px solid #e3e5ea;margin-top:1.25rem;padding-top:.75rem}
button{font:inherit;font-size:1.05rem;font-weight:600;width:100%;padding:.85rem 1rem;margin-top:1rem;border:0;
border-radius:8px;background:#b42318;color:#fff;cursor:pointer}
button:focus-visible{outline:3px solid #1d4ed8;outline-offset:2px}
.ok{color:#05603a}
"""


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="es-CO"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="robots" content="noindex"><title>{escape(title)}</title><style>{_STYLE}</style></head>'
        f"<body><main>{body}</main></body></html>"
    )


def _who(sender_name: str | None) -> tuple[str, str]:
    if sender_name:
        return f" de <strong>{escape(sender_name)}</strong>", f" from <strong>{escape(sender_name)}</strong>"
    return "", ""


def ask_page(sender_name: str | None, number: str) -> str:
    es, en = _who(sender_name)
    masked = escape(mask(number))
    return _page(
        "Dejar de recibir mensajes",
        "<h1>Dejar de recibir mensajes</h1>"
        f"<p>Toca el botón para no recibir más mensajes publicitarios{es} en el número {masked}.</p>"
        '<form method="post"><button type="submit">No quiero recibir más mensajes</button></form>'
        f'<p class="en" lang="en">Tap the button to stop marketing messages{en} to {masked}. '
        "The button reads “No quiero recibir más mensajes” (I do not want more messages).</p>",
    )


def done_page(sender_name: str | None, number: str) -> str:
    es, en = _who(sender_name)
    masked = escape(mask(number))
    return _page(
        "Listo: no recibirás más mensajes",
        '<h1 class="ok">Listo</h1>'
        f"<p>No recibirás más mensajes publicitarios{es} en el número {masked}. No tienes que hacer nada más.</p>"
        f'<p class="en" lang="en">Done: you will receive no more marketing messages{en} at {masked}. '
        "Nothing else to do.</p>",
    )


def unknown_page() -> str:
    return _page(
        "Enlace no válido",
        "<h1>Este enlace no es válido</h1>"
        "<p>Revisa que esté completo, tal como llegó en el mensaje. Si el mensaje es muy antiguo, el enlace ya "
        "venció: pide a quien te lo envió que no te escriba más.</p>"
        '<p class="en" lang="en">This link is not valid. Check that it is complete, as it came in the message. '
        "If the message is very old the link has expired: ask its sender to stop writing to you.</p>",
    )
