"""The dashboard's routes: the page, its JSON, live updates over SSE, and `/metrics`.

Every answer is computed from the status files as they are when asked (file work runs in a
worker thread, off the event loop). The SSE stream checks the files' signatures every
`watch_interval_s` and pushes a release's re-rendered fragment when its file changed, and every
`refresh_s` for a live release (its elapsed time and open bars grow without a write).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from orchestrator.adapters.dashboard.guard import Guard, session_cookie, token_matches
from orchestrator.adapters.dashboard.page import (
    LIVE_RELEASES,
    asset_text,
    login_page,
    opens_by_default,
    page,
    release_fragment,
)
from orchestrator.adapters.dashboard.prometheus import metrics_text
from orchestrator.adapters.dashboard.releases import Found, ReleaseFinder, Signature, read_view
from orchestrator.adapters.dashboard.releases import signature as file_signature
from orchestrator.models.dashboard import ReleaseList, ReleaseView

_ASSETS = {"dashboard.css": "text/css", "dashboard.js": "text/javascript"}
_MAX_LOGIN_BODY = 4096
_KEEPALIVE_S = 15.0


@dataclass
class DashboardConfig:
    repo_root: Path
    now: Callable[[], datetime]
    token: str | None = None
    watch_interval_s: float = 0.5
    refresh_s: float = 5.0


@dataclass
class _Sent:
    """What one SSE client was last sent for a release."""

    key: tuple[Signature, str, str, int | None]
    at: float
    live: bool


@dataclass
class _Stream:
    only: str | None
    sent: dict[str, _Sent] = field(default_factory=dict)


class Dashboard:
    def __init__(self, config: DashboardConfig) -> None:
        self.config = config
        self.finder = ReleaseFinder(config.repo_root)

    # -- reading (worker thread) ---------------------------------------------------------

    def views(self) -> list[ReleaseView]:
        now = self.config.now()
        return [read_view(f, self.finder.repo_root, now) for f in self.finder.find()]

    def view(self, release_id: str) -> ReleaseView | None:
        found = next((f for f in self.finder.find() if f.release_id == release_id), None)
        return None if found is None else read_view(found, self.finder.repo_root, self.config.now())

    def _changes(self, stream: _Stream, clock: float) -> list[str]:
        """SSE messages for what changed since this client's last look."""
        messages = []
        founds = [f for f in self.finder.find() if stream.only in (None, f.release_id)]
        now = self.config.now()
        for found in founds:
            key = _key(found)
            last = stream.sent.get(found.release_id)
            due = last is not None and last.live and clock - last.at >= self.config.refresh_s
            if last is not None and last.key == key and not due:
                continue
            view = read_view(found, self.finder.repo_root, now)
            html = release_fragment(view, open_=stream.only is not None or opens_by_default(view))
            payload = json.dumps({"id": view.release_id, "html": html})
            messages.append(f"event: release\ndata: {payload}\n\n")
            stream.sent[found.release_id] = _Sent(key, clock, view.status in LIVE_RELEASES)
        for gone in set(stream.sent) - {f.release_id for f in founds}:
            del stream.sent[gone]
            messages.append(f"event: removed\ndata: {json.dumps({'id': gone})}\n\n")
        return messages

    # -- routes --------------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        views = await anyio.to_thread.run_sync(self.views)
        return HTMLResponse(
            page(
                views,
                repo_root=str(self.finder.repo_root),
                base="./",
                events_url="events",
                single=False,
            )
        )

    async def release_page(self, request: Request) -> Response:
        release_id = request.path_params["release_id"]
        view = await anyio.to_thread.run_sync(self.view, release_id)
        if view is None:
            return HTMLResponse(f"no release {release_id!r} here", status_code=404)
        return HTMLResponse(
            page(
                [view],
                repo_root=str(self.finder.repo_root),
                base="../",
                events_url=f"../events?release={release_id}",
                single=True,
            )
        )

    async def api_releases(self, request: Request) -> Response:
        views = await anyio.to_thread.run_sync(self.views)
        body = ReleaseList(
            repo_root=str(self.finder.repo_root), generated_at=self.config.now(), releases=views
        )
        return Response(body.model_dump_json(), media_type="application/json")

    async def api_release(self, request: Request) -> Response:
        release_id = request.path_params["release_id"]
        view = await anyio.to_thread.run_sync(self.view, release_id)
        if view is None:
            return JSONResponse(
                {"error": f"no release {release_id!r} under {self.finder.releases_dir}"},
                status_code=404,
            )
        return Response(view.model_dump_json(), media_type="application/json")

    async def events(self, request: Request) -> Response:
        stream = _Stream(only=request.query_params.get("release"))
        return StreamingResponse(
            self._event_stream(stream),
            media_type="text/event-stream",
            headers={"x-accel-buffering": "no"},
        )

    async def _event_stream(self, stream: _Stream) -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        quiet_since = anyio.current_time()
        while True:
            clock = anyio.current_time()
            messages = await anyio.to_thread.run_sync(self._changes, stream, clock)
            for message in messages:
                yield message
            if messages:
                quiet_since = clock
            elif clock - quiet_since >= _KEEPALIVE_S:
                yield ": keep-alive\n\n"
                quiet_since = clock
            await anyio.sleep(self.config.watch_interval_s)

    async def metrics(self, request: Request) -> Response:
        accept = request.headers.get("accept", "")
        body, content_type = await anyio.to_thread.run_sync(metrics_text, self.views, accept)
        return Response(body, headers={"content-type": content_type})

    async def asset(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _ASSETS:
            return Response("not found", status_code=404)
        return Response(asset_text(name), media_type=_ASSETS[name])

    async def login_form(self, request: Request) -> Response:
        if self.config.token is None:
            return RedirectResponse("./", status_code=303)
        return HTMLResponse(login_page(failed=False, base="./"))

    async def login(self, request: Request) -> Response:
        token = self.config.token
        if token is None:
            return RedirectResponse("./", status_code=303)
        if int(request.headers.get("content-length") or 0) > _MAX_LOGIN_BODY:
            return Response("too large", status_code=413)
        body = (await request.body())[:_MAX_LOGIN_BODY].decode(errors="replace")
        given = parse_qs(body).get("token", [""])[0]
        if not given or not token_matches(given, token):
            return HTMLResponse(login_page(failed=True, base="./"), status_code=401)
        response = RedirectResponse("./", status_code=303)
        response.headers.append("set-cookie", session_cookie(token))
        return response


def _key(found: Found) -> tuple[Signature, str, str, int | None]:
    return (
        file_signature(found.status_path),
        found.location,
        str(found.status_path),
        found.max_parallel,
    )


def create_app(config: DashboardConfig) -> Starlette:
    board = Dashboard(config)
    routes = [
        Route("/", board.index),
        Route("/releases/{release_id}", board.release_page),
        Route("/api/releases", board.api_releases),
        Route("/api/releases/{release_id}", board.api_release),
        Route("/events", board.events),
        Route("/metrics", board.metrics),
        Route("/assets/{name}", board.asset),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        Route("/login", board.login_form, methods=["GET"]),
        Route("/login", board.login, methods=["POST"]),
    ]
    return Starlette(routes=routes, middleware=[Middleware(Guard, token=config.token)])
