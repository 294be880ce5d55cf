"""Cursor connection settings from the environment, and the httpx clients built from them: one
for requests, and the shards streams run on."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from typing import Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from orchestrator import __version__
from orchestrator.adapters.cursor.stream_pool import StreamClients
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


def _timeout(settings: CursorSettings, read_s: float) -> httpx.Timeout:
    return httpx.Timeout(
        connect=settings.connect_timeout_s,
        read=read_s,
        write=settings.write_timeout_s,
        pool=settings.connect_timeout_s,
    )


def build_http_client(
    settings: CursorSettings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    max_connections: int = 50,
    max_keepalive: int | None = None,
    verify: ssl.SSLContext | bool = True,
) -> httpx.AsyncClient:
    """One AsyncClient per process, explicit timeouts; creates raise the read timeout per call.
    `max_keepalive` (default: up to 20) idle connections are kept for the next request."""
    keepalive = min(max_connections, 20) if max_keepalive is None else max_keepalive
    return httpx.AsyncClient(
        timeout=_timeout(settings, settings.read_timeout_s),
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=min(keepalive, max_connections),
        ),
        headers={"User-Agent": f"orchd/{__version__}"},
        follow_redirects=False,
        transport=transport,
        verify=verify,
    )


STREAM_SHARD_SIZE = 64  # connections per stream client: httpcore's bookkeeping stays small


def build_stream_clients(
    settings: CursorSettings,
    *,
    max_streams: int,
    transport: httpx.AsyncBaseTransport | None = None,
    on_client: Callable[[httpx.AsyncClient], None] | None = None,
) -> StreamClients:
    """The clients SSE streams run on, apart from the request pool (see `StreamClients`):
    shards share one TLS context; an injected `transport` (tests) serves every stream.
    `on_client` sees each shard's client as it is made (the daemon's metrics count its streams)."""
    verify: ssl.SSLContext | bool = True
    if transport is None:
        verify = httpx.create_ssl_context()

    def shard(max_connections: int) -> httpx.AsyncClient:
        client = build_http_client(
            settings,
            transport=transport,
            max_connections=max_connections,
            max_keepalive=max_connections // 4,  # a finished stream's connection serves the next
            verify=verify,
        )
        client.timeout = _timeout(settings, settings.stream_read_timeout_s)
        if on_client is not None:
            on_client(client)
        return client

    size = STREAM_SHARD_SIZE if transport is None else max(1, max_streams)
    return StreamClients(shard, max_streams=max_streams, shard_size=size)
