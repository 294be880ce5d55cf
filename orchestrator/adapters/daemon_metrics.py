"""What only the running daemon knows, for Prometheus (`orchd start --metrics-port N`).

The dashboard's `/metrics` reads status files; these counters and histograms come from inside
the process: every Cursor API request by endpoint and status code, 429s and the Retry-After they
asked for, stream connects, launches, retries, alerts, status writes, and gate durations. One
registry per daemon (no global state), served on loopback by prometheus-client's own server.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from wsgiref.simple_server import WSGIServer

import httpx
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from orchestrator.models.events import (
    AlertRaised,
    FuLaunching,
    FuRetrying,
    GateFinished,
    StatusEvent,
)

_ID_AFTER = {"agents": "{agent_id}", "runs": "{run_id}", "artifacts": "{path}"}
_T0 = "orchd_t0"


def endpoint_of(path: str) -> str:
    """`/v1/agents/bc-1/runs/run-2/stream` → `/v1/agents/{agent_id}/runs/{run_id}/stream`: one
    series per endpoint, never one per agent."""
    parts = path.split("/")
    shown: list[str] = []
    for index, part in enumerate(parts):
        before = parts[index - 1] if index else ""
        shown.append(_ID_AFTER[before] if before in _ID_AFTER and part else part)
    return "/".join(shown)


def _retry_after_s(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    return float(value) if re.fullmatch(r"\d+(\.\d+)?", value) else None


@dataclass
class DaemonMetrics:
    registry: CollectorRegistry = field(default_factory=lambda: CollectorRegistry())

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter(
            "orchd_cursor_requests",
            "Cursor API requests by endpoint, method and HTTP status code",
            ["endpoint", "method", "code"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "orchd_cursor_request_seconds",
            "Time from sending a Cursor API request to its response headers",
            ["endpoint"],
            registry=r,
        )
        self.rate_limited = Counter(
            "orchd_cursor_rate_limited", "Cursor API answers 429 (rate or usage limit)", registry=r
        )
        self.retry_after = Counter(
            "orchd_cursor_retry_after_seconds",
            "Seconds of waiting that 429 answers asked for (Retry-After)",
            registry=r,
        )
        self.stream_connects = Counter(
            "orchd_cursor_stream_connects",
            "Run stream connections opened (first connects and reconnects)",
            registry=r,
        )
        self.launches = Counter("orchd_launches", "Agent runs launched (attempts)", registry=r)
        self.retries = Counter("orchd_retries", "Failed attempts that are retried", registry=r)
        self.alerts = Counter("orchd_alerts", "Alerts raised, by kind", ["kind"], registry=r)
        self.status_writes = Counter(
            "orchd_status_writes", "agent_status.json writes that landed", registry=r
        )
        self.gate_seconds = Histogram(
            "orchd_gate_seconds",
            "Time a gate's integration tests ran (a batch's, or the full suite)",
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600),
            registry=r,
        )

    def observe(self, event: StatusEvent) -> None:
        """Count what a status event says happened."""
        match event:
            case FuLaunching():
                self.launches.inc()
            case FuRetrying():
                self.retries.inc()
            case AlertRaised():
                self.alerts.labels(kind=event.kind).inc()
            case GateFinished():
                seconds = 0.0
                for test in event.tests:
                    value = test.get("duration_s")
                    seconds += float(value) if isinstance(value, int | float) else 0.0
                self.gate_seconds.observe(seconds)
            case _:
                pass

    def written(self) -> None:
        self.status_writes.inc()

    async def on_request(self, request: httpx.Request) -> None:
        request.extensions[_T0] = time.perf_counter()

    async def on_response(self, response: httpx.Response) -> None:
        request = response.request
        endpoint = endpoint_of(request.url.path)
        self.requests.labels(endpoint, request.method, str(response.status_code)).inc()
        started = request.extensions.get(_T0)
        if isinstance(started, float):
            self.request_seconds.labels(endpoint).observe(time.perf_counter() - started)
        if endpoint.endswith("/stream"):
            self.stream_connects.inc()
        if response.status_code == 429:
            self.rate_limited.inc()
            wait = _retry_after_s(response)
            if wait is not None:
                self.retry_after.inc(wait)

    def instrument(self, http: httpx.AsyncClient) -> None:
        """Count every request the client sends from now on."""
        hooks = http.event_hooks
        http.event_hooks = {
            "request": [*hooks.get("request", []), self.on_request],
            "response": [*hooks.get("response", []), self.on_response],
        }

    def serve(self, port: int, host: str = "127.0.0.1") -> WSGIServer:
        """Serve `/metrics` on host:port (0: a free port, see `server_port`); raises OSError."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return server
