"""Cursor connection settings from the environment, and the one httpx client built from them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from orchestrator import __version__
from orchestrator.errors import InputError

ENV_URL = "CURSOR_CLOUD_API_URL"
ENV_KEY = "CURSOR_CLOUD_API_KEY"
ENV_AUTH = "CURSOR_AUTH_SCHEME"

AuthScheme = Literal["basic", "bearer"]


def normalize_base_url(url: str) -> str:
    """The server root without a trailing `/v1` or `/`, so paths `/v1/...` never double up."""
    root = url.strip().rstrip("/")
    while root.endswith("/v1"):
        root = root[: -len("/v1")].rstrip("/")
    return root


def check_base_url(url: str) -> str | None:
    """What is wrong with a base URL, or None when it is usable."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return "must be an http(s) URL such as https://api.cursor.com/v1"
    if parts.username or parts.password:
        return "must not contain credentials; put the key in CURSOR_CLOUD_API_KEY"
    if parts.query or parts.fragment:
        return "must not have a query or fragment"
    return None


class CursorSettings(BaseModel):
    """Everything needed to talk to Cursor. The key is a SecretStr: its repr shows `**********`."""

    model_config = ConfigDict(frozen=True)

    base_url: str
    api_key: SecretStr
    auth_scheme: AuthScheme = "basic"
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0
    write_timeout_s: float = 30.0
    create_read_timeout_s: float = 90.0
    stream_read_timeout_s: float = 120.0


def client_settings_from_env(env: Mapping[str, str]) -> CursorSettings:
    """Read and check the Cursor variables; an InputError names the variable and the fix."""
    url = env.get(ENV_URL, "").strip()
    if not url:
        raise InputError(f"{ENV_URL} is not set (export it, e.g. https://api.cursor.com/v1)")
    problem = check_base_url(url)
    if problem:
        raise InputError(f"{ENV_URL}: {problem}")
    key = env.get(ENV_KEY, "").strip()
    if not key:
        raise InputError(f"{ENV_KEY} is not set (create a key in the Cursor dashboard)")
    scheme = env.get(ENV_AUTH, "basic").strip().lower() or "basic"
    if scheme not in ("basic", "bearer"):
        raise InputError(f"{ENV_AUTH} must be 'basic' or 'bearer', got {scheme!r}")
    return CursorSettings(
        base_url=normalize_base_url(url),
        api_key=SecretStr(key),
        auth_scheme="bearer" if scheme == "bearer" else "basic",
    )


def build_http_client(
    settings: CursorSettings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    max_connections: int = 50,
) -> httpx.AsyncClient:
    """One AsyncClient per process, explicit timeouts; creates raise the read timeout per call."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(
            connect=settings.connect_timeout_s,
            read=settings.read_timeout_s,
            write=settings.write_timeout_s,
            pool=settings.connect_timeout_s,
        ),
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=min(max_connections, 20),
        ),
        headers={"User-Agent": f"orchd/{__version__}"},
        follow_redirects=False,
        transport=transport,
    )
