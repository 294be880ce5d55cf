"""Who may see the dashboard, and the headers every answer carries.

With a token (required off loopback), every route but the login form and the static assets
wants it: as `Authorization: Bearer <token>` (Prometheus, curl) or as the cookie the login form
sets (a browser; EventSource cannot send headers). Never in a URL, so it is in no access log,
history or Referer. Comparisons are constant-time; the cookie holds an HMAC of the token, not
the token itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE = "orchd_dashboard"
OPEN_PATHS = ("/login", "/assets/")
_SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def session_value(token: str) -> str:
    """What the login cookie holds: proof of the token that is useless as the token."""
    return hmac.new(token.encode(), b"orchd-dashboard-session-v1", hashlib.sha256).hexdigest()


def session_cookie(token: str) -> str:
    return f"{SESSION_COOKIE}={session_value(token)}; HttpOnly; SameSite=Strict; Path=/"


def token_matches(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode(), token.encode())


def authorised(headers: Headers, token: str) -> bool:
    scheme, _, given = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and given and token_matches(given.strip(), token):
        return True
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == SESSION_COOKIE and hmac.compare_digest(
            value.encode(), session_value(token).encode()
        ):
            return True
    return False


def _relative_root(path: str) -> str:
    """`./`, `../`… back to the dashboard's root from `path` (it may sit behind a prefix)."""
    depth = path.count("/") - 1
    return "../" * depth if depth > 0 else "./"


class Guard:
    """ASGI middleware: security headers on every answer; the token check when one is set."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        path: str = scope["path"]
        if (
            self.token is None
            or path.startswith(OPEN_PATHS)
            or authorised(Headers(scope=scope), self.token)
        ):
            await self.app(scope, receive, send_with_headers)
            return
        await self._refuse(scope, send_with_headers, path)

    async def _refuse(self, scope: Scope, send: Send, path: str) -> None:
        accepts_html = "text/html" in Headers(scope=scope).get("accept", "")
        for_people = not path.startswith(("/api/", "/events", "/metrics"))
        if scope["method"] == "GET" and accepts_html and for_people:
            location = _relative_root(path) + "login"
            await send(
                {
                    "type": "http.response.start",
                    "status": 303,
                    "headers": [(b"location", location.encode()), (b"content-length", b"0")],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        body = json.dumps(
            {"error": "unauthorised: send Authorization: Bearer <token>, or sign in at /login"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b'Bearer realm="orchd dashboard"'),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
