"""Notifications reach a real local receiver: one message per event, retried, never a secret."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from structlog.testing import capture_logs

from orchestrator.adapters.notify import Notifier, safe_url

SECRET = "key_live_5ecret-Token"
TOKEN_PATH = "/hooks/T000/B000/tokenpart"


class Receiver:
    """A webhook endpoint that records bodies and answers with scripted status codes."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.requests: list[dict[str, Any]] = []
        self.release = anyio.Event()
        self.release.set()
        self._send, self.arrivals = anyio.create_memory_object_stream[dict[str, Any]](
            max_buffer_size=math.inf
        )
        self.app = Starlette(routes=[Route(TOKEN_PATH, self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        body = json.loads(await request.body())
        self.requests.append(body)
        await self.release.wait()
        status = self.statuses.pop(0) if self.statuses else 200
        if status < 300:
            self._send.send_nowait(body)
        return Response("ok" if status < 300 else "nope", status_code=status)

    def close(self) -> None:
        self._send.close()
        self.arrivals.close()

    async def next(self, timeout_s: float = 5) -> dict[str, Any]:
        with anyio.fail_after(timeout_s):
            return await self.arrivals.receive()


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # tests own the signals


@contextlib.asynccontextmanager
async def serving(receiver: Receiver) -> AsyncIterator[str]:
    config = uvicorn.Config(
        receiver.app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"
    )
    server = _Server(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        with anyio.fail_after(5):
            while not server.started:  # noqa: ASYNC110 -- uvicorn exposes no readiness event
                await anyio.sleep(0.005)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.1:{port}{TOKEN_PATH}?token=q-{SECRET}"
        finally:
            receiver.release.set()
            server.should_exit = True
            receiver.close()


@contextlib.asynccontextmanager
async def running(notifier: Notifier) -> AsyncIterator[Notifier]:
    async with anyio.create_task_group() as tg:
        tg.start_soon(notifier.run)
        yield notifier
        await notifier.aclose(grace_s=5)


@pytest.mark.asyncio
async def test_each_notify_posts_exactly_one_slack_compatible_message() -> None:
    receiver = Receiver()
    async with serving(receiver) as url, httpx.AsyncClient() as http:
        notifier = Notifier(url, http, release_id="v0.1.1", backoff_s=0.01)
        async with running(notifier):
            notifier.notify("batch.failed", "Batch 0.5 failed: IT-001 failed", batch_id="0.5")
            notifier.notify("release.completed", "v0.1.1 completed", status="completed")
            first, second = await receiver.next(), await receiver.next()
    assert len(receiver.requests) == 2
    assert first["text"] == "Batch 0.5 failed: IT-001 failed"
    assert first["event"] == "batch.failed"
    assert first["release_id"] == "v0.1.1"
    assert first["batch_id"] == "0.5"
    assert first["at"].endswith("+00:00")
    assert second["event"] == "release.completed"
    assert second["status"] == "completed"


@pytest.mark.asyncio
async def test_server_error_is_retried_once_then_delivered() -> None:
    receiver = Receiver(statuses=[500, 200])
    async with serving(receiver) as url, httpx.AsyncClient() as http:
        notifier = Notifier(url, http, backoff_s=0.01)
        with capture_logs() as logs:
            async with running(notifier):
                notifier.notify("escalation", "FU-101 escalated")
                body = await receiver.next()
    assert body["event"] == "escalation"
    assert len(receiver.requests) == 2
    sent = [e for e in logs if e["event"] == "notify.sent"]
    assert sent == [
        {
            "event": "notify.sent",
            "log_level": "info",
            "notify_event": "escalation",
            "target": "http://127.0.0.1",
            "attempt": 2,
        }
    ]


@pytest.mark.asyncio
async def test_client_error_is_dropped_without_retry_and_logged_without_the_token() -> None:
    receiver = Receiver(statuses=[404])
    async with serving(receiver) as url, httpx.AsyncClient() as http:
        notifier = Notifier(url, http, backoff_s=0.01)
        with capture_logs() as logs:
            async with running(notifier):
                notifier.notify("checkpoint", "paused after batch 2")
    assert len(receiver.requests) == 1
    failed = [e for e in logs if e["event"] == "notify.failed"]
    assert len(failed) == 1
    assert failed[0]["reason"] == "HTTP 404"
    assert "tokenpart" not in repr(logs)
    assert SECRET not in repr(logs)


@pytest.mark.asyncio
async def test_payload_never_contains_a_secret() -> None:
    receiver = Receiver()
    async with serving(receiver) as url, httpx.AsyncClient() as http:
        notifier = Notifier(url, http, secrets=[SECRET, ""], backoff_s=0.01)
        async with running(notifier):
            notifier.notify(
                "batch.failed",
                f"agent said: export CURSOR_API_KEY={SECRET}",
                detail={"env": {"CURSOR_API_KEY": SECRET}, "lines": [f"Bearer {SECRET}"]},
            )
            body = await receiver.next()
    raw = json.dumps(receiver.requests)
    assert SECRET not in raw
    assert body["text"] == "agent said: export CURSOR_API_KEY=[REDACTED]"
    assert body["detail"] == {
        "env": {"CURSOR_API_KEY": "[REDACTED]"},
        "lines": ["Bearer [REDACTED]"],
    }


@pytest.mark.asyncio
async def test_notify_returns_at_once_while_the_receiver_is_slow() -> None:
    receiver = Receiver()
    receiver.release = anyio.Event()  # hold every response until released
    async with serving(receiver) as url, httpx.AsyncClient() as http:
        notifier = Notifier(url, http, timeout_s=5, backoff_s=0.01)
        async with running(notifier):
            started = anyio.current_time()
            for n in range(3):
                notifier.notify("escalation", f"FU-{n} escalated")
            assert anyio.current_time() - started < 0.05
            with anyio.fail_after(5):
                while not receiver.requests:  # noqa: ASYNC110 -- waiting on another task's I/O
                    await anyio.sleep(0.005)
            assert receiver.arrivals.statistics().current_buffer_used == 0
            receiver.release.set()
            texts = [(await receiver.next())["text"] for _ in range(3)]
    assert texts == ["FU-0 escalated", "FU-1 escalated", "FU-2 escalated"]


@pytest.mark.asyncio
async def test_aclose_delivers_the_backlog_within_the_grace_and_then_stops() -> None:
    receiver = Receiver()
    async with serving(receiver) as url, httpx.AsyncClient() as http:
        notifier = Notifier(url, http, backoff_s=0.01)
        async with anyio.create_task_group() as tg:
            tg.start_soon(notifier.run)
            notifier.notify("release.completed", "done")
            await notifier.aclose(grace_s=5)
        notifier.notify("late", "after close")  # dropped, never raises
    assert [r["event"] for r in receiver.requests] == ["release.completed"]


@pytest.mark.asyncio
async def test_unreachable_receiver_gives_up_after_attempts_within_the_grace() -> None:
    async with httpx.AsyncClient() as http:
        # Port 9 on loopback: connection refused, a transport error.
        notifier = Notifier("http://127.0.0.1:9/hook?token=x", http, attempts=2, backoff_s=0.01)
        with capture_logs() as logs:
            async with running(notifier):
                notifier.notify("escalation", "FU-1 escalated")
    failed = [e for e in logs if e["event"] == "notify.failed"]
    assert [(e["attempts"], e["reason"]) for e in failed] == [(2, "ConnectError")]


@pytest.mark.asyncio
async def test_without_url_everything_is_a_no_op() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        notifier = Notifier(None, http)
        assert not notifier.enabled
        async with running(notifier):
            notifier.notify("escalation", "FU-1 escalated")


@pytest.mark.asyncio
async def test_logged_target_keeps_only_scheme_and_host() -> None:
    url = "https://hooks.slack.com/services/T000/B000/XXXX?token=abc"
    assert safe_url(url) == "https://hooks.slack.com"
    async with httpx.AsyncClient() as http:
        notifier = Notifier(url, http)
        assert repr(notifier) == "Notifier(https://hooks.slack.com)"
        await notifier.aclose()


@pytest.mark.asyncio
async def test_a_hung_receiver_costs_one_timeout_per_attempt() -> None:
    receiver = Receiver()
    receiver.release = anyio.Event()  # never answers until the test ends
    async with serving(receiver) as url, httpx.AsyncClient() as http:
        notifier = Notifier(url, http, timeout_s=0.2, attempts=2, backoff_s=0.01)
        with capture_logs() as logs:
            started = anyio.current_time()
            async with running(notifier):
                notifier.notify("escalation", "FU-1 escalated")
            elapsed_s = anyio.current_time() - started
    failed = [e for e in logs if e["event"] == "notify.failed"]
    assert [(e["attempts"], e["reason"]) for e in failed] == [(2, "timeout")]
    assert 0.4 <= elapsed_s < 2


def test_notifier_can_be_built_before_the_event_loop_starts() -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    notifier = Notifier("http://127.0.0.1:9/hook", http, backoff_s=0)

    async def main() -> None:
        async with http, running(notifier):
            notifier.notify("release.completed", "done")

    with capture_logs() as logs:
        anyio.run(main)
    assert [e["event"] for e in logs] == ["notify.sent"]


@pytest.mark.asyncio
async def test_a_malformed_webhook_url_is_reported_not_raised() -> None:
    async with httpx.AsyncClient() as http:
        notifier = Notifier("https://hooks.example:4o3/T/secret", http, attempts=1)
        with capture_logs() as logs:
            async with running(notifier):
                notifier.notify("batch.failed", "batch 0 failed")
    failed = [e for e in logs if e["event"] == "notify.failed"]
    assert len(failed) == 1
    assert "secret" not in repr(logs)
