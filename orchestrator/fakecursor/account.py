"""The simulated Cursor account: its agents and runs, request log, fault dice and clocks.

Separate from the HTTP face (app.py) so the route handlers (routes.py) can depend on the
account without importing the app that mounts them.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import random
import time
from collections.abc import Callable
from typing import Any, Self

import anyio

from orchestrator.clock import utcnow
from orchestrator.fakecursor.agent_git import AgentGit, git_report
from orchestrator.fakecursor.scenario import Scenario
from orchestrator.fakecursor.state import Simulation
from orchestrator.fakecursor.traffic import RequestLog, run_stats


class FakeAccount:
    """A simulated Cursor account: what the route handlers read and change (`FakeCursor` adds
    the ASGI app that serves it).

    `clock` returns seconds (monotonic or the event loop's fake time); it is first read on the
    first request, so a fixture may build the fake outside the event loop.

    Agents on a local-path or `file://` repo do real git (agent_git.py) in a workspace the fake
    owns: call `close()` (or use it as a context manager) to remove it.
    """

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        api_key: str = "test-key",
        clock: Callable[[], float] = time.monotonic,
        time_scale: float | None = None,
    ) -> None:
        self._api_key = api_key
        self._clock = clock
        self.scenario: Scenario = scenario or Scenario()
        self.git = AgentGit()
        self.reset(scenario or Scenario(), time_scale)

    def __repr__(self) -> str:  # never shows the key
        return f"{type(self).__name__}(time_scale={self.time_scale}, agents={len(self.sim.agents)})"

    def reset(self, scenario: Scenario | None = None, time_scale: float | None = None) -> None:
        """Forget every agent, run and request; restart the clocks at the next request."""
        self.scenario = scenario or self.scenario
        self.time_scale = time_scale if time_scale is not None else self.scenario.time_scale
        self._t0: float | None = None
        self._changed: anyio.Event | None = None
        self.epoch = utcnow()
        self.sim = Simulation(self.scenario, self.epoch)
        self.log = RequestLog()
        self.fault_rng = random.Random(self.scenario.seed)
        self.git.close()

    def close(self) -> None:
        """Remove the agents' git workspace (scratch clones are already gone after each run)."""
        self.git.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def wait_for_change(self, timeout_s: float) -> None:
        """Sleep up to `timeout_s` real seconds, waking early when a run is cancelled."""
        if self._changed is None:
            self._changed = anyio.Event()
        with anyio.move_on_after(timeout_s):
            await self._changed.wait()

    def notify_change(self) -> None:
        """Wake streams waiting on silent runs (a cancel or delete ends them)."""
        if self._changed is not None:
            self._changed.set()
        self._changed = None

    def clock_s(self) -> float:
        """Server clock seconds since the fake started (unscaled)."""
        now = self._clock()
        if self._t0 is None:
            self._t0 = now
        return now - self._t0

    def sim_s(self) -> float:
        """Simulated seconds since start: what run scripts are written in."""
        return self.clock_s() * self.time_scale

    def now_s(self) -> float:
        """`sim_s()` for a request that looks at runs: first does the git work of every run on a
        local repo that is FINISHED by then, so no response shows FINISHED before the push.
        Callers render at this same `t_s` (git takes real time, simulated time may move on)."""
        t_s = self.sim_s()
        self.git.settle(self.sim, t_s)
        return t_s

    def git_report(self) -> dict[str, Any]:
        """Per local-repo agent: startingRef as sent, branch, and each run's git outcome."""
        return git_report(self.sim, self.now_s(), self.git.workspace)

    def key_matches(self, authorization: str | None) -> bool:
        key = _key_from_header(authorization)
        return key is not None and hmac.compare_digest(key.encode(), self._api_key.encode())

    def stats(self) -> dict[str, Any]:
        """Counters for `/_fake/stats`. Agents hold a slot of the active-agent cap from creation
        until archived or deleted: `max_active_agents` is their peak, `active_agents_now` their
        count now; `max_concurrent_active` counts runs (CREATING or RUNNING) instead."""
        t_s = self.sim_s()
        runs = list(self.sim.runs.values())
        cap = self.scenario.active_agent_cap
        return {
            "sim_time_s": t_s,
            "time_scale": self.time_scale,
            **self.log.summary(),
            "launches_per_fu": dict(self.sim.launches),
            "cancels_per_fu": dict(self.sim.cancels),
            "create_errors_per_fu": dict(self.sim.create_errors),
            "agents_total": len(self.sim.agents),
            "active_agent_cap": cap.limit if cap is not None else None,
            "max_active_agents": self.sim.max_active_agents,
            "active_agents_now": self.sim.active_agents(),
            "cap_refusals": sum(self.sim.cap_refusals.values()),
            "cap_refusals_per_fu": dict(self.sim.cap_refusals),
            **run_stats(runs, t_s),
        }

    def requests(self) -> list[dict[str, Any]]:
        return [r.as_json() for r in self.log.records]


def _key_from_header(authorization: str | None) -> str | None:
    """The API key from `Bearer <key>` or Basic with the key as username."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            user, _, _password = (
                base64.b64decode(value.strip(), validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user or None
    return None
