"""The API key never shows up in exceptions, reprs or logs, whatever the server echoes."""

from __future__ import annotations

import base64

import httpx
import pytest
import respx
from pydantic import SecretStr
from structlog.testing import capture_logs

from orchestrator.adapters.cursor import errors as E
from orchestrator.adapters.cursor.client import CursorClient
from orchestrator.adapters.cursor.settings import CursorSettings
from tests.cursor.conftest import API_KEY, ROOT, FakeClock, error_json, make_client

BASIC_TOKEN = base64.b64encode(f"{API_KEY}:".encode()).decode()


def _assert_clean(text: str) -> None:
    assert API_KEY not in text
    assert BASIC_TOKEN not in text


@pytest.mark.asyncio
@pytest.mark.parametrize("auth_scheme", ["basic", "bearer"])
async def test_key_echoed_by_server_is_redacted_from_errors_and_logs(
    router: respx.MockRouter, clock: FakeClock, auth_scheme: str
) -> None:
    client = make_client(router, clock, auth_scheme=auth_scheme)
    echo = f"bad key {API_KEY} / Authorization: Basic {BASIC_TOKEN}"
    router.get("/v1/me").mock(
        side_effect=[
            httpx.Response(500, json=error_json("internal_error", echo)),
            httpx.Response(401, json=error_json("unauthorized", echo)),
        ]
    )
    with capture_logs() as logs, pytest.raises(E.Unauthorized) as info:
        await client.me()
    _assert_clean(str(info.value))
    _assert_clean(repr(info.value))
    assert E.REDACTED in info.value.message
    _assert_clean(repr(logs))
    assert logs, "the retry must have been logged"


@pytest.mark.asyncio
async def test_transport_error_text_is_redacted(router: respx.MockRouter, clock: FakeClock) -> None:
    client = make_client(router, clock)
    router.get("/v1/me").mock(side_effect=httpx.ConnectError(f"proxy rejected {API_KEY}"))
    with capture_logs() as logs, pytest.raises(E.TransportError) as info:
        await client.me()
    _assert_clean(str(info.value))
    _assert_clean(repr(logs))


def test_client_and_settings_reprs_hide_the_key(client: CursorClient) -> None:
    _assert_clean(repr(client))
    settings = CursorSettings(base_url=ROOT, api_key=SecretStr(API_KEY))
    _assert_clean(repr(settings))
    _assert_clean(str(settings))
    _assert_clean(settings.model_dump_json())
