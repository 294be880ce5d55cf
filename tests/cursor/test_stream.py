"""The run stream: SSE parsing, resume header, 410 fallback signal, bad content types."""

from __future__ import annotations

import httpx
import pytest
import respx

from orchestrator.adapters.cursor import errors as E
from orchestrator.adapters.cursor.client import CursorClient
from orchestrator.adapters.cursor.models import RunStatus
from orchestrator.adapters.cursor.sse import SseParser, parse_lines
from tests.cursor.conftest import AGENT_ID, RUN_ID, error_json

STREAM = f"/v1/agents/{AGENT_ID}/runs/{RUN_ID}/stream"
BODY = (
    f'event: status\ndata: {{"runId":"{RUN_ID}","status":"RUNNING"}}\n\n'
    ": keep-alive comment\n\n"
    "id: 1-0\nevent: heartbeat\ndata: {}\n\n"
    'id: 2-0\nevent: tool_call\ndata: {"callId":"c1","name":"read_file",\n'
    'data: "status":"running"}\n\n'
    f'id: 3-0\nevent: result\ndata: {{"runId":"{RUN_ID}","status":"FINISHED","text":"ok"}}\n\n'
    "id: 4-0\nevent: done\ndata: {}\n\n"
)


@pytest.mark.asyncio
async def test_stream_yields_typed_events_and_sends_resume_header(
    client: CursorClient, router: respx.MockRouter
) -> None:
    route = router.get(STREAM).respond(
        200, text=BODY, headers={"Content-Type": "text/event-stream; charset=utf-8"}
    )
    events = [e async for e in client.stream_run(AGENT_ID, RUN_ID, last_event_id="0-9")]
    assert [e.event for e in events] == ["status", "heartbeat", "tool_call", "result", "done"]
    assert [e.id for e in events] == [None, "1-0", "2-0", "3-0", "4-0"]
    assert events[0].run_status is RunStatus.RUNNING
    assert events[1].is_heartbeat
    assert events[2].data == {"callId": "c1", "name": "read_file", "status": "running"}
    assert events[3].run_status is RunStatus.FINISHED
    assert events[4].is_done
    sent = route.calls.last.request.headers
    assert sent["Last-Event-ID"] == "0-9"
    assert sent["Accept"] == "text/event-stream"


@pytest.mark.asyncio
async def test_expired_stream_raises_stream_expired_for_polling_fallback(
    client: CursorClient, router: respx.MockRouter
) -> None:
    router.get(STREAM).respond(410, json=error_json("stream_expired", "retention elapsed"))
    with pytest.raises(E.StreamExpired, match="retention elapsed"):
        _ = [e async for e in client.stream_run(AGENT_ID, RUN_ID)]


@pytest.mark.asyncio
async def test_stream_that_is_not_event_stream_is_a_protocol_error(
    client: CursorClient, router: respx.MockRouter
) -> None:
    router.get(STREAM).respond(200, json={"status": "RUNNING"})
    with pytest.raises(E.ProtocolError, match="text/event-stream"):
        _ = [e async for e in client.stream_run(AGENT_ID, RUN_ID)]


@pytest.mark.asyncio
async def test_stream_dropped_midway_is_a_transport_error(
    client: CursorClient, router: respx.MockRouter
) -> None:
    router.get(STREAM).mock(side_effect=httpx.ReadTimeout("stream went silent"))
    with pytest.raises(E.TransportError, match="stream went silent"):
        _ = [e async for e in client.stream_run(AGENT_ID, RUN_ID)]


def test_parser_remembers_last_event_id_and_keeps_non_json_data_raw() -> None:
    parser = SseParser()
    lines = ["id: 7-1", "event: assistant", "data: plain text", "retry: 1500", ""]
    events = [e for line in lines if (e := parser.feed_line(line)) is not None]
    assert len(events) == 1
    assert (events[0].data, events[0].raw_data, events[0].retry_ms) == (
        "plain text",
        "plain text",
        1500,
    )
    assert parser.last_event_id == "7-1"


def test_parser_dispatches_bare_heartbeat_and_drops_unterminated_event() -> None:
    events = list(parse_lines(["event: heartbeat", "", "data: {}", "event: status"]))
    assert [e.event for e in events] == ["heartbeat"]


def test_unknown_status_in_stream_event_is_a_clear_error() -> None:
    (event,) = parse_lines(["event: status", 'data: {"status":"PAUSED"}', ""])
    with pytest.raises(ValueError, match="unknown run status 'PAUSED'"):
        _ = event.run_status


@pytest.mark.asyncio
async def test_a_rate_limited_stream_says_how_long_to_wait_and_is_not_retried_here(
    client: CursorClient, router: respx.MockRouter
) -> None:
    """The run watcher waits out Retry-After before it reconnects (the client never does)."""
    route = router.get(STREAM).respond(
        429, json=error_json("rate_limit_exceeded", "slow down"), headers={"Retry-After": "90"}
    )
    with pytest.raises(E.RateLimited) as caught:
        _ = [e async for e in client.stream_run(AGENT_ID, RUN_ID)]
    assert caught.value.retry_after_s == 90.0
    assert route.call_count == 1


@pytest.mark.asyncio
async def test_a_refused_resume_is_told_apart_from_other_bad_requests(
    client: CursorClient, router: respx.MockRouter
) -> None:
    """`400 invalid_last_event_id` means "reconnect without Last-Event-ID" to the watcher."""
    router.get(STREAM).respond(
        400, json=error_json("invalid_last_event_id", "Last-Event-ID is not from this run.")
    )
    with pytest.raises(E.CursorError) as caught:
        _ = [e async for e in client.stream_run(AGENT_ID, RUN_ID, last_event_id="9-9")]
    assert (caught.value.status, caught.value.code) == (400, "invalid_last_event_id")
    assert not caught.value.retryable
