"""Webhook notifications (Slack-compatible JSON) that never block or break the engine.

`notify()` only queues; a background task posts with a timeout and retries. Webhook URLs embed
tokens, so only scheme and host are ever logged, and every known secret is redacted from the
payload before it leaves the process.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import anyio
import httpx
import structlog

from orchestrator.clock import utcnow
from orchestrator.models.batch_id import batch_id_json

log = structlog.get_logger(__name__)

REDACTED = "[REDACTED]"


def safe_url(url: str) -> str:
    """Scheme and host only: path and query of a webhook URL are credentials."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "<invalid url>"
    return f"{parsed.scheme}://{parsed.host}"


def _json_default(value: Any) -> Any:
    """Batch ids as numbers (as in the status file), times as ISO text, anything else as text."""
    if isinstance(value, Decimal):
        return batch_id_json(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(str(v) for v in value)
    return str(value)


def redact(body: str, secrets: Sequence[str]) -> str:
    """Replace each secret as it appears inside JSON strings; the body stays valid JSON."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            body = body.replace(json.dumps(secret)[1:-1], REDACTED)
    return body


class Notifier:
    """Queue events with `notify`, deliver them from `run` (start it in the task group)."""

    def __init__(
        self,
        url: str | None,
        http: httpx.AsyncClient,
        *,
        secrets: Sequence[str] = (),
        timeout_s: float = 5.0,
        attempts: int = 3,
        backoff_s: float = 1.0,
        release_id: str | None = None,
    ) -> None:
        self._url = url or None
        self._http = http
        self._secrets = tuple(s for s in secrets if s)
        self.timeout_s = timeout_s
        self.attempts = max(1, attempts)
        self.backoff_s = backoff_s
        self.release_id = release_id
        self._send, self._receive = anyio.create_memory_object_stream[str](max_buffer_size=math.inf)
        self._scope: anyio.CancelScope | None = None
        self._running = False
        self._closed = False
        self._done: anyio.Event | None = None  # made in run(): an Event needs a running loop

    def __repr__(self) -> str:
        target = safe_url(self._url) if self._url else "off"
        return f"Notifier({target})"

    @property
    def enabled(self) -> bool:
        return self._url is not None

    def notify(self, event: str, text: str, **fields: Any) -> None:
        """Queue one message; returns at once and never raises (a notification is not worth
        failing a release for). Call it from the event loop's thread."""
        if self._url is None:
            return
        try:
            payload = {
                "text": text,
                "event": event,
                "release_id": self.release_id,
                **fields,
                "at": utcnow().isoformat(),
            }
            body = redact(json.dumps(payload, default=_json_default), self._secrets)
            self._send.send_nowait(body)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            log.warning("notify.dropped", notify_event=event, reason="notifier closed")
        except Exception as exc:  # never let a bad field break the caller
            log.warning("notify.dropped", notify_event=event, reason=type(exc).__name__)

    async def run(self) -> None:
        """Deliver queued messages in order until `aclose`; each is tried `attempts` times."""
        if self._running:
            raise RuntimeError("Notifier.run is already running")
        if self._closed:
            return
        self._running = True
        self._done = done = anyio.Event()
        try:
            with anyio.CancelScope() as self._scope:
                async with self._receive:
                    async for body in self._receive:
                        await self._deliver(body)
        finally:
            done.set()

    async def aclose(self, grace_s: float = 5.0) -> None:
        """Stop taking messages; deliver what is queued within `grace_s`, then stop `run`."""
        self._send.close()
        if self._closed:
            return
        self._closed = True
        if self._done is not None:
            with anyio.move_on_after(grace_s):
                await self._done.wait()
            if self._scope is not None:
                self._scope.cancel()
            await self._done.wait()
            return
        # run() was never started: deliver the backlog here, bounded by the grace.
        with anyio.move_on_after(grace_s):
            async with self._receive:
                async for body in self._receive:
                    await self._deliver(body)
        self._receive.close()

    async def _deliver(self, body: str) -> None:
        assert self._url is not None  # messages are only queued with a URL
        event = _event_of(body)
        target = safe_url(self._url)
        for attempt in range(1, self.attempts + 1):
            reason = await self._post(body)
            if reason is None:
                log.info("notify.sent", notify_event=event, target=target, attempt=attempt)
                return
            final = reason.startswith("HTTP 4") and not reason.startswith("HTTP 429")
            if final or attempt == self.attempts:
                log.warning(
                    "notify.failed",
                    notify_event=event,
                    target=target,
                    attempts=attempt,
                    reason=reason,
                )
                return
            await anyio.sleep(self.backoff_s * 2 ** (attempt - 1))

    async def _post(self, body: str) -> str | None:
        """None when delivered, else a short reason (never the URL: it holds a token)."""
        assert self._url is not None
        try:
            response = await self._http.post(
                self._url,
                content=body.encode(),
                headers={"content-type": "application/json"},
                timeout=self.timeout_s,
            )
        except httpx.TimeoutException:
            return "timeout"
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            # a webhook must never take the release down: report and go on
            return type(exc).__name__
        if response.is_success:
            return None
        return f"HTTP {response.status_code}"


def _event_of(body: str) -> str:
    try:
        return str(json.loads(body).get("event", ""))
    except (ValueError, AttributeError):
        return ""
