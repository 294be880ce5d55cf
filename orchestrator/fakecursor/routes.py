"""Handlers for the v1 paths the fake implements, and the `/_fake/*` inspection endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from orchestrator.fakecursor.account import FakeAccount
from orchestrator.fakecursor.api_error import ApiError, validation_error
from orchestrator.fakecursor.bodies import parse_create_agent, parse_create_run
from orchestrator.fakecursor.runs import TERMINAL, Run, iso
from orchestrator.fakecursor.scenario import Scenario
from orchestrator.fakecursor.state import Simulation, parse_limit
from orchestrator.fakecursor.stream_events import StreamEvent, resume_position, timeline
from orchestrator.fakecursor.traffic import RequestRecord

Handler = Callable[[Request], Awaitable[Response]]
_IDLE_WAIT_S = 3600.0  # real seconds a silent (hung) stream waits; a cancel wakes it earlier
_MIN_SLEEP_S = 0.001


def build_routes(fake: FakeAccount) -> list[Route]:
    def sim() -> Simulation:
        return fake.sim  # looked up per call: reset() swaps the simulation

    def agent_id(request: Request) -> str:
        """The `{id}` path parameter; also tags the request record with the agent's FU."""
        value = str(request.path_params["id"])
        record: RequestRecord | None = request.scope.get("fake.record")
        if record is not None and record.fu_id is None:
            record.fu_id = sim().fu_of(value)
        return value

    def settled(created: dict[str, Any], t_s: float) -> dict[str, Any]:
        """A run over as soon as it is made (duration 0) pushes before any body shows it."""
        fake.git.settle(sim(), t_s)
        run = sim().runs[created["run"]["id"]]
        again = {**created, "run": sim().render_run(run, t_s)}
        if "agent" in created:
            again["agent"] = sim().render_agent(sim().agents[run.agent_id], t_s)
        return again

    async def create_agent(request: Request) -> Response:
        body = parse_create_agent(await request.body())
        t_s = fake.now_s()
        created = settled(sim().create_agent(body, t_s), t_s)
        record: RequestRecord | None = request.scope.get("fake.record")
        if record is not None:
            record.fu_id = sim().fu_of(created["agent"]["id"])
        return JSONResponse(created, status_code=201)

    async def list_agents(request: Request) -> Response:
        q = request.query_params
        include = q.get("includeArchived", "true").lower()
        if include not in {"true", "false"}:
            raise validation_error("includeArchived", "must be true or false")
        cursor = q.get("cursor")
        if cursor == "":
            raise validation_error("cursor", "must not be empty")
        listed = sim().list_agents(
            parse_limit(q.get("limit")), cursor, q.get("prUrl"), include == "true", fake.now_s()
        )
        return JSONResponse(listed)

    async def get_agent(request: Request) -> Response:
        found = sim().agent(agent_id(request))
        return JSONResponse(sim().render_agent(found, fake.now_s()))

    async def delete_agent(request: Request) -> Response:
        deleted = sim().delete_agent(agent_id(request), fake.now_s())
        fake.notify_change()
        return JSONResponse(deleted)

    async def create_run(request: Request) -> Response:
        aid = agent_id(request)
        sim().agent(aid)  # 404 before 400, as a missing agent makes the body moot
        body = parse_create_run(await request.body())
        t_s = fake.now_s()
        return JSONResponse(settled(sim().create_run(aid, body, t_s), t_s), status_code=201)

    async def list_runs(request: Request) -> Response:
        q = request.query_params
        cursor = q.get("cursor")
        if cursor == "":
            raise validation_error("cursor", "must not be empty")
        listed = sim().list_runs(
            agent_id(request), parse_limit(q.get("limit")), cursor, fake.now_s()
        )
        return JSONResponse(listed)

    async def get_run(request: Request) -> Response:
        run = sim().run(agent_id(request), str(request.path_params["runId"]))
        return JSONResponse(sim().render_run(run, fake.now_s()))

    async def cancel_run(request: Request) -> Response:
        aid, rid = agent_id(request), str(request.path_params["runId"])
        cancelled = sim().cancel_run(aid, rid, fake.now_s())
        fake.notify_change()
        return JSONResponse(cancelled)

    async def usage(request: Request) -> Response:
        run_id = request.query_params.get("runId")
        return JSONResponse(sim().usage(agent_id(request), run_id, fake.now_s()))

    async def archive(request: Request) -> Response:
        return JSONResponse(sim().set_archived(agent_id(request), archived=True))

    async def unarchive(request: Request) -> Response:
        return JSONResponse(sim().set_archived(agent_id(request), archived=False))

    async def artifacts(request: Request) -> Response:
        sim().agent(agent_id(request))
        return JSONResponse({"items": []})

    async def artifact_download(request: Request) -> Response:
        sim().agent(agent_id(request))
        path = request.query_params.get("path")
        if not path:
            raise validation_error("path", "Field required")
        raise ApiError(404, "artifact_not_found", f"Artifact {path} not found.")

    async def me(request: Request) -> Response:
        del request
        info = {
            "apiKeyName": fake.scenario.api_key_name,
            "createdAt": iso(fake.epoch, 0.0),
            "userEmail": "developer@example.com",
            "userId": 42,
        }
        return JSONResponse(info)

    async def models(request: Request) -> Response:
        del request
        items = [{"id": m, "displayName": m} for m in fake.scenario.models]
        return JSONResponse({"items": items})

    async def repositories(request: Request) -> Response:
        del request
        urls = sorted({str(r["url"]) for a in sim().agents.values() for r in a.repos})
        return JSONResponse({"items": [{"url": u} for u in urls]})

    async def sub_tokens(request: Request) -> Response:
        del request
        raise ApiError(403, "service_account_required", "Requires a team service account key.")

    async def stream(request: Request) -> Response:
        return _stream_response(fake, request, agent_id(request))

    async def admin_stats(request: Request) -> Response:
        del request
        return JSONResponse(fake.stats())

    async def admin_git(request: Request) -> Response:
        del request
        return JSONResponse(fake.git_report())

    async def admin_requests(request: Request) -> Response:
        del request
        return JSONResponse({"items": fake.requests()})

    async def admin_reset(request: Request) -> Response:
        raw = await request.body()
        scenario = Scenario.model_validate_json(raw) if raw.strip() else None
        fake.reset(scenario)
        return JSONResponse({"ok": True})

    a = "/v1/agents/{id}"
    r = a + "/runs/{runId}"
    return [
        Route("/v1/agents", create_agent, methods=["POST"]),
        Route("/v1/agents", list_agents, methods=["GET"]),
        Route(a, get_agent, methods=["GET"]),
        Route(a, delete_agent, methods=["DELETE"]),
        Route(a + "/runs", create_run, methods=["POST"]),
        Route(a + "/runs", list_runs, methods=["GET"]),
        Route(r, get_run, methods=["GET"]),
        Route(r + "/stream", stream, methods=["GET"]),
        Route(r + "/cancel", cancel_run, methods=["POST"]),
        Route(a + "/usage", usage, methods=["GET"]),
        Route(a + "/archive", archive, methods=["POST"]),
        Route(a + "/unarchive", unarchive, methods=["POST"]),
        Route(a + "/artifacts", artifacts, methods=["GET"]),
        Route(a + "/artifacts/download", artifact_download, methods=["GET"]),
        Route("/v1/me", me, methods=["GET"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/repositories", repositories, methods=["GET"]),
        Route("/v1/sub-tokens", sub_tokens, methods=["POST"]),
        Route("/_fake/stats", admin_stats, methods=["GET"]),
        Route("/_fake/requests", admin_requests, methods=["GET"]),
        Route("/_fake/git", admin_git, methods=["GET"]),
        Route("/_fake/reset", admin_reset, methods=["POST"]),
    ]


def _stream_response(fake: FakeAccount, request: Request, agent_id: str) -> Response:
    """SSE for one run: status first, then due events; waits in scaled real time."""
    run = fake.sim.run(agent_id, str(request.path_params["runId"]))
    scenario = fake.scenario
    retention_s = scenario.stream_retention_s
    now_s = fake.now_s()
    ended = run.ended_s(now_s)
    if run.plan.stream_expired or (
        retention_s is not None and ended is not None and now_s > ended + retention_s
    ):
        raise ApiError(410, "stream_expired", "The stream retention window has elapsed.")
    start = 0
    last_id = request.headers.get("last-event-id")
    if last_id:
        position = resume_position(_events(fake, run), last_id)
        if position is None:
            raise ApiError(400, "invalid_last_event_id", "Last-Event-ID is not from this run.")
        start = position
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    if retention_s is not None:
        headers["X-Cursor-Stream-Retention-Seconds"] = str(int(retention_s))
    return StreamingResponse(
        _sse(fake, run, start), media_type="text/event-stream", headers=headers
    )


def _events(fake: FakeAccount, run: Run) -> list[StreamEvent]:
    agent = fake.sim.agents.get(run.agent_id)
    end = run.ended_s(float("inf"))
    git = fake.sim.agent_git(agent, end, run) if agent is not None and end is not None else None
    return timeline(
        run, git, fake.scenario.heartbeat_interval_s, round(fake.epoch.timestamp() * 1000)
    )


async def _sse(fake: FakeAccount, run: Run, position: int) -> AsyncIterator[str]:
    connected_s = fake.now_s()
    first: dict[str, Any] = {"runId": run.id, "status": run.status(connected_s)}
    yield StreamEvent(connected_s, "status", first, None).encode()
    scale = fake.time_scale
    while True:
        now_s = fake.now_s()
        events = _events(fake, run)
        while position < len(events) and events[position].t_s <= now_s:
            event = events[position]
            position += 1
            if event.event == "status" and event.t_s <= connected_s:
                continue  # already told by the status line at the top
            yield event.encode()
            if event.event == "done":
                return
        if position >= len(events) and run.status(now_s) in TERMINAL:
            return  # defensive: a terminal timeline always ends with `done`
        if position >= len(events):
            await fake.wait_for_change(_IDLE_WAIT_S)
        else:
            await anyio.sleep(max((events[position].t_s - now_s) / scale, _MIN_SLEEP_S))
