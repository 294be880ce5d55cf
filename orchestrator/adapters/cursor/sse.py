"""Server-Sent Events parsing, pure: lines in, StreamEvents out (WHATWG event-stream rules).

One deliberate leniency: an event with an `event:` line but no `data:` is still dispatched, so a
bare `event: heartbeat` counts as liveness instead of being silently dropped.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator

from orchestrator.adapters.cursor.models import StreamEvent


class SseParser:
    """Feed it one line at a time (without the newline); it returns an event on a blank line."""

    def __init__(self) -> None:
        self.last_event_id: str | None = None
        self._reset()

    def _reset(self) -> None:
        self._event: str | None = None
        self._id: str | None = None
        self._data: list[str] = []
        self._retry_ms: int | None = None
        self._seen = False

    def feed_line(self, line: str) -> StreamEvent | None:
        line = line.rstrip("\r\n")
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None  # comment / keep-alive
        field, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if field == "event":
            self._event = value
            self._seen = True
        elif field == "data":
            self._data.append(value)
            self._seen = True
        elif field == "id":
            if "\0" not in value:
                self._id = value
                self.last_event_id = value or None
        elif field == "retry" and value.isdigit():
            self._retry_ms = int(value)
        return None

    def _dispatch(self) -> StreamEvent | None:
        if not self._seen:
            self._reset()
            return None
        event = StreamEvent.from_fields(
            event=self._event, id=self._id, data="\n".join(self._data), retry_ms=self._retry_ms
        )
        self._reset()
        return event

    def finish(self) -> StreamEvent | None:
        """End of stream: an unterminated event is incomplete and is discarded, per the spec."""
        self._reset()
        return None


def parse_lines(lines: Iterable[str]) -> Iterator[StreamEvent]:
    parser = SseParser()
    for line in lines:
        event = parser.feed_line(line)
        if event is not None:
            yield event


async def aparse_lines(lines: AsyncIterable[str]) -> AsyncIterator[StreamEvent]:
    parser = SseParser()
    async for line in lines:
        event = parser.feed_line(line)
        if event is not None:
            yield event
