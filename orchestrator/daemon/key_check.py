"""`orchd start` asks Cursor whether it knows the key before anything is launched or written.

Separate from the run: it uses its own short-lived client with a quick retry policy, and a
refusal is bad input (exit 2), not a failed release.
"""

from __future__ import annotations

import httpx

from orchestrator.adapters.cursor.client import CursorClient
from orchestrator.adapters.cursor.errors import CursorError, Forbidden, Unauthorized
from orchestrator.adapters.cursor.settings import (
    ENV_KEY,
    ENV_URL,
    CursorSettings,
    build_http_client,
)
from orchestrator.core.backoff import BackoffPolicy
from orchestrator.errors import InputError

# `orchd start` checks the key before anything else: a few quick retries, never minutes
KEY_CHECK_BACKOFF = BackoffPolicy(max_attempts=3, initial_delay_s=0.5, max_total_s=15.0)


async def check_api_key(
    cursor: CursorSettings, *, transport: httpx.AsyncBaseTransport | None = None
) -> None:
    """`GET /v1/me` before anything is launched or written: a key Cursor refuses (401/403),
    or an API that does not answer (5xx, transport, not the Cursor API), is InputError (exit 2)
    in one line, instead of every FU escalating after its retries."""
    async with build_http_client(cursor, transport=transport) as http:
        client = CursorClient.from_settings(http, cursor, backoff=KEY_CHECK_BACKOFF)
        try:
            await client.me()
        except (Unauthorized, Forbidden) as exc:
            raise InputError(
                f"{ENV_KEY}: Cursor refused the key ({exc}); nothing was launched "
                "(`orchd doctor` checks the key)"
            ) from None
        except CursorError as exc:
            raise InputError(
                f"{ENV_URL}: the Cursor API could not check the key ({exc}); nothing was "
                "launched (try again; `orchd doctor` checks the URL and the key)"
            ) from None
