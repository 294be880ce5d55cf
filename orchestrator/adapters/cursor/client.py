"""The Cursor Cloud Agents v1 client orchd's engine calls: typed, retrying, never leaking the key.

Retries follow `orchestrator.core.backoff` (429, 5xx, transport errors). A create is retried only
when it carries an `agentId`; a `409 agent_id_conflict` then means "it exists": the agent and its
latest run are fetched and returned, so a lost response never launches a second agent.

At most `max_in_flight` requests are on the wire at once (the rest wait their turn here, not in
httpx's pool, whose bookkeeping grows with its queue). Streams run on their own clients
(`StreamClients`) when given; when none can be opened (every slot taken, or out of file
descriptors) `stream_run` raises `StreamsExhausted` and the caller polls.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

import anyio
import httpx
import pydantic
import structlog

from orchestrator.adapters.cursor import errors as E
from orchestrator.adapters.cursor.models import (
    Agent,
    AgentList,
    CreateAgentRequest,
    CreateAgentResponse,
    CreateRunRequest,
    CreateRunResponse,
    Me,
    ModelInfo,
    ModelList,
    Run,
    RunList,
    StreamEvent,
    Usage,
)
from orchestrator.adapters.cursor.settings import CursorSettings, normalize_base_url
from orchestrator.adapters.cursor.sse import SseParser
from orchestrator.adapters.cursor.stream_pool import StreamClients
from orchestrator.clock import utcnow
from orchestrator.core.backoff import BackoffPolicy, next_delay, server_delay_s

log = structlog.get_logger("orchestrator.cursor")

M = TypeVar("M", bound=pydantic.BaseModel)
_RETRY_HINT_STATUSES = frozenset({429, 503})


def _describe_validation(exc: pydantic.ValidationError) -> str:
    parts = [
        f"{'.'.join(str(p) for p in err['loc']) or '<body>'}: {err['msg']}"
        for err in exc.errors(include_url=False, include_input=False)[:3]
    ]
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


_CLOCK_SKEW = timedelta(seconds=30)  # between our clock and Cursor's


class CursorClient:
    """Typed access to the v1 API over one injected httpx.AsyncClient (timeouts live there)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        api_key: str,
        auth_scheme: Literal["basic", "bearer"] = "basic",
        backoff: BackoffPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
        now: Callable[[], datetime] = utcnow,
        create_read_timeout_s: float = 90.0,
        stream_read_timeout_s: float = 120.0,
        max_in_flight: int | None = None,
        streams: StreamClients | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("api_key must be non-empty")
        self._http = http
        self._root = normalize_base_url(base_url)
        basic_token = base64.b64encode(f"{api_key}:".encode()).decode("ascii")
        if auth_scheme == "bearer":
            self._auth_header = f"Bearer {api_key}"
        else:
            self._auth_header = f"Basic {basic_token}"
        # Both encodings are scrubbed from any text the server or httpx hands back.
        self._secrets = (api_key, basic_token)
        self._backoff = backoff or BackoffPolicy()
        self._sleep = sleep
        self._monotonic = monotonic
        self._rand = rand
        self._now = now
        self._create_read_timeout_s = create_read_timeout_s
        self._stream_read_timeout_s = stream_read_timeout_s
        self._in_flight = anyio.Semaphore(max_in_flight) if max_in_flight else None
        self._streams = streams

    @classmethod
    def from_settings(
        cls,
        http: httpx.AsyncClient,
        settings: CursorSettings,
        *,
        backoff: BackoffPolicy | None = None,
        max_in_flight: int | None = None,
        streams: StreamClients | None = None,
    ) -> CursorClient:
        return cls(
            http,
            backoff=backoff,
            base_url=settings.base_url,
            api_key=settings.api_key.get_secret_value(),
            auth_scheme=settings.auth_scheme,
            create_read_timeout_s=settings.create_read_timeout_s,
            stream_read_timeout_s=settings.stream_read_timeout_s,
            max_in_flight=max_in_flight,
            streams=streams,
        )

    def __repr__(self) -> str:
        return f"CursorClient(base_url={self._root!r})"

    # --- plumbing -----------------------------------------------------------------------------

    def _timeout(self, read_s: float) -> httpx.Timeout:
        base = self._http.timeout
        return httpx.Timeout(connect=base.connect, read=read_s, write=base.write, pool=base.pool)

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": self._auth_header, "Accept": "application/json"}
        headers.update(extra or {})
        return headers

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        http_timeout: httpx.Timeout | None = None,
        retry_ambiguous: bool = True,
    ) -> httpx.Response:
        """Send with retries. `retry_ambiguous=False`: retry only answers that prove nothing ran.

        A transport error or 5xx may hide a request the server did act on; 429 never does.
        """
        started = self._monotonic()
        attempt = 0
        while True:
            attempt += 1
            outcome = await self._send_once(method, path, json, params, headers, http_timeout)
            if isinstance(outcome, httpx.Response):
                return outcome
            err = outcome
            err.attempt = attempt
            may_retry = err.retryable and (retry_ambiguous or isinstance(err, E.RateLimited))
            delay = (
                next_delay(
                    attempt,
                    elapsed_s=self._monotonic() - started,
                    retry_after_s=err.retry_after_s,
                    policy=self._backoff,
                    rand=self._rand(),
                )
                if may_retry
                else None
            )
            if delay is None:
                if may_retry:
                    log.warning(
                        "cursor.request_gave_up",
                        method=method,
                        path=path,
                        status=err.status,
                        code=err.code,
                        attempt=attempt,
                    )
                raise err
            log.info(
                "cursor.request_retry",
                method=method,
                path=path,
                status=err.status,
                code=err.code,
                delay_s=round(delay, 3),
                attempt=attempt,
            )
            await self._sleep(delay)

    async def _send_once(
        self,
        method: str,
        path: str,
        json: dict[str, Any] | None,
        params: Mapping[str, str | int] | None,
        headers: Mapping[str, str] | None,
        http_timeout: httpx.Timeout | None,
    ) -> httpx.Response | E.CursorError:
        """One HTTP exchange: the response on 2xx, else the CursorError it amounts to."""
        try:
            async with self._in_flight or contextlib.nullcontext():
                response = await self._http.request(
                    method,
                    self._root + path,
                    json=json,
                    params=params,
                    headers=self._headers(headers),
                    timeout=http_timeout if http_timeout is not None else httpx.USE_CLIENT_DEFAULT,
                )
        except httpx.TransportError as exc:
            detail = E.redact(str(exc) or type(exc).__name__, self._secrets)
            return E.TransportError(f"{type(exc).__name__}: {detail}", method=method, path=path)
        if response.is_success:
            return response
        return self._error_for(response, method, path)

    def _error_for(self, response: httpx.Response, method: str, path: str) -> E.CursorError:
        retry_after_s = None
        if response.status_code in _RETRY_HINT_STATUSES:
            retry_after_s = server_delay_s(
                response.headers.get("Retry-After"),
                response.headers.get("X-RateLimit-Reset"),
                self._now(),
            )
        return E.error_from_response(
            response.status_code,
            response.content,
            method=method,
            path=path,
            retry_after_s=retry_after_s,
            secrets=self._secrets,
        )

    def _parse(self, model: type[M], response: httpx.Response) -> M:
        """Validate a 2xx body; anything off-spec becomes a ProtocolError naming the field."""
        method, path = response.request.method, response.request.url.path
        try:
            doc = response.json()
        except ValueError:
            raise E.ProtocolError(
                f"{model.__name__} expected, body is not JSON",
                status=response.status_code,
                method=method,
                path=path,
            ) from None
        try:
            return model.model_validate(doc)
        except pydantic.ValidationError as exc:
            raise E.ProtocolError(
                f"malformed {model.__name__}: {_describe_validation(exc)}",
                status=response.status_code,
                method=method,
                path=path,
            ) from None

    # --- agents ------------------------------------------------------------------------------

    async def create_agent(
        self, req: CreateAgentRequest, *, adopt_existing: bool = True
    ) -> tuple[Agent, Run]:
        """Launch an agent and its first run.

        With `req.agent_id` set, ambiguous failures are retried with the same id. A 409
        `agent_id_conflict` after a retry always means our earlier try got through: adopt it.
        On the first try it means an earlier orchd process launched it (ids are deterministic
        per attempt): adopt when `adopt_existing`, else raise AgentIdConflict.
        """
        headers = {"Idempotency-Key": req.agent_id} if req.agent_id else None
        try:
            response = await self._request(
                "POST",
                "/v1/agents",
                json=req.to_body(),
                headers=headers,
                http_timeout=self._timeout(self._create_read_timeout_s),
                retry_ambiguous=req.agent_id is not None,
            )
        except E.AgentIdConflict as conflict:
            if req.agent_id is None or not (adopt_existing or conflict.attempt > 1):
                raise
            return await self._adopt(req.agent_id, conflict.attempt, expected=req)
        created = self._parse(CreateAgentResponse, response)
        return created.agent, created.run

    async def _adopt(
        self, agent_id: str, attempt: int, *, expected: CreateAgentRequest | None = None
    ) -> tuple[Agent, Run]:
        agent = await self.get_agent(agent_id)
        if expected is not None:
            _check_ours(agent, expected)
        run_id = agent.latest_run_id
        if run_id is None:
            runs = await self.list_runs(agent_id, limit=1)
            if not runs.items:
                raise E.ProtocolError(
                    "agent exists but has no run to adopt",
                    method="GET",
                    path=f"/v1/agents/{agent_id}",
                )
            run = runs.items[0]
        else:
            run = await self.get_run(agent_id, run_id)
        log.info("cursor.agent_adopted", agent_id=agent_id, run_id=run.id, attempt=attempt)
        return agent, run

    async def get_agent(self, agent_id: str) -> Agent:
        return self._parse(Agent, await self._request("GET", f"/v1/agents/{agent_id}"))

    async def list_agents(
        self,
        *,
        limit: int = 20,
        cursor: str | None = None,
        include_archived: bool = False,
        pr_url: str | None = None,
    ) -> AgentList:
        params: dict[str, str | int] = {
            "limit": _check_limit(limit),
            "includeArchived": "true" if include_archived else "false",
        }
        if cursor:
            params["cursor"] = cursor
        if pr_url:
            params["prUrl"] = pr_url
        return self._parse(AgentList, await self._request("GET", "/v1/agents", params=params))

    async def iter_agents(self, **kw: Any) -> AsyncIterator[Agent]:
        """Every agent across pages, following nextCursor (a repeated cursor is a ProtocolError)."""
        seen: set[str] = set()
        cursor: str | None = kw.pop("cursor", None)
        while True:
            page = await self.list_agents(cursor=cursor, **kw)
            for item in page.items:
                yield item
            if not page.next_cursor:
                return
            if page.next_cursor in seen:
                raise E.ProtocolError(
                    f"pagination cursor {page.next_cursor!r} repeated",
                    method="GET",
                    path="/v1/agents",
                )
            seen.add(page.next_cursor)
            cursor = page.next_cursor

    async def archive_agent(self, agent_id: str) -> None:
        await self._request("POST", f"/v1/agents/{agent_id}/archive")

    async def unarchive_agent(self, agent_id: str) -> None:
        """Before a follow-up on an agent orchd archived (it frees the account slot meanwhile)."""
        await self._request("POST", f"/v1/agents/{agent_id}/unarchive")

    # --- runs ---------------------------------------------------------------------------------

    async def get_run(self, agent_id: str, run_id: str) -> Run:
        return self._parse(Run, await self._request("GET", f"/v1/agents/{agent_id}/runs/{run_id}"))

    async def list_runs(
        self, agent_id: str, *, limit: int = 20, cursor: str | None = None
    ) -> RunList:
        params: dict[str, str | int] = {"limit": _check_limit(limit)}
        if cursor:
            params["cursor"] = cursor
        response = await self._request("GET", f"/v1/agents/{agent_id}/runs", params=params)
        return self._parse(RunList, response)

    async def create_run(self, agent_id: str, req: CreateRunRequest) -> Run:
        """Send a follow-up run. A retried POST answered `409 agent_busy` means our lost first
        try started a run: the agent's latest run is returned instead of failing."""
        asked_at = self._now()
        try:
            response = await self._request(
                "POST",
                f"/v1/agents/{agent_id}/runs",
                json=req.to_body(),
                http_timeout=self._timeout(self._create_read_timeout_s),
            )
        except E.AgentBusy as busy:
            if busy.attempt == 1:
                raise
            _, run = await self._adopt(agent_id, busy.attempt)
            # Only a run created since we first asked can be ours; an older active run means
            # the agent was busy all along, and the follow-up never started.
            if run.created_at < asked_at - _CLOCK_SKEW:
                raise
            return run
        return self._parse(CreateRunResponse, response).run

    async def cancel_run(self, agent_id: str, run_id: str) -> bool:
        """True when cancelled now; False when the run was already terminal (409)."""
        try:
            await self._request("POST", f"/v1/agents/{agent_id}/runs/{run_id}/cancel")
        except E.RunNotCancellable:
            return False
        return True

    async def stream_run(
        self, agent_id: str, run_id: str, *, last_event_id: str | None = None
    ) -> AsyncIterator[StreamEvent]:
        """Yield the run's SSE events until the server closes the stream.

        No retries or reconnects here: the caller resumes with the last seen event id, or on
        StreamExpired (410) falls back to polling `get_run`. A silent stream ends in
        TransportError after the stream read timeout; no stream slot, or no file descriptor for
        its connection, is StreamsExhausted.
        """
        path = f"/v1/agents/{agent_id}/runs/{run_id}/stream"
        if self._streams is None:
            async for event in self._stream_on(self._http, path, last_event_id):
                yield event
            return
        async with self._streams.slot() as http:
            if http is None:
                raise E.StreamsExhausted(
                    f"all {self._streams.max_streams} stream slots are taken",
                    method="GET",
                    path=path,
                )
            async for event in self._stream_on(http, path, last_event_id):
                yield event

    async def _stream_on(
        self, http: httpx.AsyncClient, path: str, last_event_id: str | None
    ) -> AsyncIterator[StreamEvent]:
        extra = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if last_event_id:
            extra["Last-Event-ID"] = last_event_id
        try:
            async with http.stream(
                "GET",
                self._root + path,
                headers=self._headers(extra),
                timeout=self._timeout(self._stream_read_timeout_s),
            ) as response:
                if not response.is_success:
                    await response.aread()
                    raise self._error_for(response, "GET", path)
                content_type = response.headers.get("Content-Type", "")
                if "text/event-stream" not in content_type:
                    raise E.ProtocolError(
                        f"expected text/event-stream, got {content_type or 'no content type'!r}",
                        status=response.status_code,
                        method="GET",
                        path=path,
                    )
                parser = SseParser()
                async for line in response.aiter_lines():
                    event = parser.feed_line(line)
                    if event is not None:
                        yield event
        except httpx.TransportError as exc:
            detail = E.redact(str(exc) or type(exc).__name__, self._secrets)
            error = E.StreamsExhausted if _out_of_descriptors(exc) else E.TransportError
            raise error(f"{type(exc).__name__}: {detail}", method="GET", path=path) from None

    # --- account ------------------------------------------------------------------------------

    async def usage(self, agent_id: str) -> Usage | None:
        """Token usage, or None when the early-access endpoint is off (403 feature_unavailable)."""
        try:
            response = await self._request("GET", f"/v1/agents/{agent_id}/usage")
        except E.FeatureUnavailable:
            return None
        return self._parse(Usage, response)

    async def me(self) -> Me:
        return self._parse(Me, await self._request("GET", "/v1/me"))

    async def models(self) -> list[ModelInfo]:
        return self._parse(ModelList, await self._request("GET", "/v1/models")).items


_NO_DESCRIPTORS = frozenset({errno.EMFILE, errno.ENFILE})


def _out_of_descriptors(exc: BaseException) -> bool:
    """An error caused, anywhere down its chain, by EMFILE/ENFILE (a socket not created)."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _NO_DESCRIPTORS:
            return True
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                pending.append(linked)
    return False


def _check_limit(limit: int) -> int:
    if not 1 <= limit <= 100:
        raise ValueError(f"limit must be within 1..100, got {limit}")
    return limit


def _same_repo(a: str, b: str) -> bool:
    def norm(url: str) -> str:
        return url.strip().rstrip("/").removesuffix(".git").lower()

    return norm(a) == norm(b)


def _check_ours(agent: Agent, expected: CreateAgentRequest) -> None:
    """An agent answering our id must be the one we would have made: same repo, same name."""
    problems: list[str] = []
    want_repo = expected.repos[0].url if expected.repos else None
    have_repo = agent.repos[0].url if agent.repos else None
    if want_repo is not None and (have_repo is None or not _same_repo(want_repo, have_repo)):
        problems.append(f"its repo is {have_repo or 'none'}, not {want_repo}")
    if expected.name is not None and agent.name != expected.name:
        problems.append(f"its name is {agent.name!r}, not {expected.name!r}")
    if problems:
        raise E.ForeignAgent(
            f"agent {agent.id} exists but is not this release run's ({'; '.join(problems)}): "
            "refusing to adopt it",
            method="GET",
            path=f"/v1/agents/{agent.id}",
        )
