"""Run a release against the in-process fake Cursor server, on the event loop's (fake) time."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from orchestrator.adapters.cursor.client import CursorClient
from orchestrator.adapters.cursor.models import CreateAgentRequest, Prompt, RepoConfig, Run
from orchestrator.adapters.cursor.settings import CursorSettings
from orchestrator.adapters.daemon_metrics import DaemonMetrics
from orchestrator.daemon import RunEnv, Stop, run_release
from orchestrator.engine.asking import Notify
from orchestrator.engine.configure import DecisionModes
from orchestrator.engine.deciders import Decider
from orchestrator.engine.settings import EngineSettings
from orchestrator.engine.supervisor import ReleaseOutcome
from orchestrator.fakecursor.app import FakeCursor
from orchestrator.fakecursor.scenario import Scenario
from orchestrator.fakecursor.seed_repo import seed_repo
from orchestrator.fakecursor.transport import StreamingASGITransport
from orchestrator.models.release import ReleasePlan
from orchestrator.models.status import StatusFile

T0 = datetime(2026, 1, 1, tzinfo=UTC)
API_KEY = "sk-test-secret-4242"


@dataclass
class Ran:
    outcome: ReleaseOutcome
    fake: FakeCursor
    status: dict[str, Any]
    elapsed_s: float
    origin: str = ""  # the file:// URL of the remote the release ran against

    def fu(self, fu_id: str) -> dict[str, Any]:
        for batch in self.status["batches"]:
            for entry in batch["feature_units"]:
                if entry["fu_id"] == fu_id:
                    return dict(entry)
        raise KeyError(fu_id)

    @property
    def stats(self) -> dict[str, Any]:
        return self.fake.stats()


def settings(**overrides: Any) -> EngineSettings:
    base = EngineSettings(
        repo_url="https://github.com/acme/neotoma",
        poll_interval_s=10.0,
        stale_after_s=15 * 60.0,
        max_duration_s=120 * 60.0,
        use_stream=True,
        coalesce_s=0.0,
    )
    return replace(base, **overrides)


async def run_on_fake(
    plan: ReleasePlan,
    scenario: Scenario,
    tmp_path: Path,
    *,
    engine: EngineSettings | None = None,
    abort_at_s: float | None = None,
    detach_at_s: float | None = None,
    existing: Any = None,
    fake: FakeCursor | None = None,
    decider: Decider | None = None,
    notifier: Notify | None = None,
    modes: DecisionModes | None = None,
    wrap_transport: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None = None,
    metrics: DaemonMetrics | None = None,
) -> Ran:
    """`wrap_transport` puts a layer between orchd and the fake (a client-side fault)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    fake = fake or FakeCursor(scenario, api_key=API_KEY, clock=loop.time)

    def now() -> datetime:
        return T0 + timedelta(seconds=loop.time() - start)

    engine = replace(engine or settings(), now=now)
    if not engine.repo_url.startswith("file://"):
        engine = replace(engine, repo_url=origin_in(tmp_path))
    if engine.state_dir is None:
        engine = replace(engine, state_dir=tmp_path / "state")
    run_env = RunEnv(
        cursor=CursorSettings(base_url="http://fake.cursor.test/v1", api_key=SecretStr(API_KEY)),
        repo_url=engine.repo_url,
        release_branch="main",
    )
    trigger: Callable[[], Awaitable[Stop | None]] | None = None
    if abort_at_s is not None or detach_at_s is not None:
        delay = abort_at_s if abort_at_s is not None else detach_at_s
        how = Stop.ABORT if abort_at_s is not None else Stop.DETACH

        async def trigger() -> Stop | None:
            await asyncio.sleep(delay or 0.0)
            return how

    path = tmp_path / "agent_status.json"
    transport: httpx.AsyncBaseTransport = StreamingASGITransport(fake.app)
    if wrap_transport is not None:
        transport = wrap_transport(transport)
    try:
        outcome = await run_release(
            plan,
            engine,
            run_env,
            path,
            existing=existing,
            transport=transport,
            shutdown_trigger=trigger,
            install_signal_handlers=False,
            decider=decider,
            extra_notifier=notifier,
            modes=modes,
            metrics=metrics,
        )
    finally:
        fake.close()  # the fake agents' scratch clones
    return Ran(outcome, fake, json.loads(path.read_text()), loop.time() - start, run_env.repo_url)


def status_left_by_a_crash(release_id: str, fu_id: str, **entry: Any) -> StatusFile:
    """The status file of an orchd that died while `fu_id` was running (batch 0)."""
    return StatusFile.model_validate(
        {
            "release_id": release_id,
            "orchestrator": {"agent_id": "orchd_old", "status": "running"},
            "batches": [
                {
                    "batch_id": 0,
                    "status": "running",
                    "feature_units": [{"fu_id": fu_id, "status": "running", **entry}],
                }
            ],
        }
    )


def origin_in(tmp_path: Path) -> str:
    """The seeded remote `run_on_fake` uses for this test (created on first use)."""
    origin = tmp_path / "origin.git"
    return origin.as_uri() if origin.exists() else seed_repo(origin)


async def agent_already_on(
    fake: FakeCursor, agent_id: str, prompt: str, repo_url: str, *, name: str | None = None
) -> Run:
    """An agent (and its first run) that exists on the fake before orchd starts; `name` as
    orchd names its agents (`<release> <FU> a<attempt>`) for one orchd itself launched."""
    async with httpx.AsyncClient(transport=StreamingASGITransport(fake.app)) as http:
        client = CursorClient(http, base_url="http://fake.test/v1", api_key=API_KEY)
        _, run = await client.create_agent(
            CreateAgentRequest(
                prompt=Prompt(text=prompt),
                name=name,
                agent_id=agent_id,
                repos=[RepoConfig(url=repo_url, starting_ref="main")],
            )
        )
    return run


def remote_git(origin: str, *args: str) -> str:
    """Run git on the test's bare remote (a `file://` URL); its stdout, stripped."""
    out = subprocess.run(
        ["git", "--git-dir", origin.removeprefix("file://"), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()
