"""A hung agent behind a live stream, over real loopback HTTP: stale at `stale_after`.

`orchd fake-cursor` runs as a child process on 127.0.0.1; the engine follows the run with the
real client, so read timeouts and reconnects really happen: the fake beats every 1.5 s and the
stream read timeout is 1 s. Neither the heartbeats nor the `status` the fake replays at the top
of every reconnect are the agent's activity, so the run is stale after 6 s, not cancelled at its
30 s max duration.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from orchestrator.adapters.cursor.settings import CursorSettings
from orchestrator.daemon import RunEnv, run_release
from orchestrator.engine.settings import EngineSettings
from orchestrator.fakecursor.process import FakeCursorProcess
from orchestrator.fakecursor.seed_repo import seed_repo
from orchestrator.models.status import ReleaseStatus
from tests.plans import fu, plan

pytestmark = [pytest.mark.slow, pytest.mark.asyncio]

KEY = "loopback-liveness-key-77"
STALE_S = 6.0
MAX_S = 30.0
SCENARIO = """\
time_scale: 1
heartbeat_interval_s: 1.5
defaults: {creating_s: 0, duration_s: 600}
fus:
  FU-1: {hang: true, hang_heartbeats_s: 600}
"""


def _fake_get(fake: FakeCursorProcess, path: str) -> Any:
    with urllib.request.urlopen(fake.root + path, timeout=5) as resp:
        return json.load(resp)


async def test_a_hung_agent_with_heartbeats_is_stale_at_stale_after_over_loopback(
    tmp_path: Path,
) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO)
    origin = seed_repo(tmp_path / "origin.git")
    engine = EngineSettings(
        repo_url=origin,
        poll_interval_s=0.5,
        stale_after_s=STALE_S,
        max_duration_s=MAX_S,
        use_stream=True,
        coalesce_s=0.0,
        state_dir=tmp_path / "state",
    )
    status_path = tmp_path / "agent_status.json"
    with FakeCursorProcess(api_key=KEY, scenario=scenario) as fake:
        cursor = CursorSettings(
            base_url=fake.url,
            api_key=SecretStr(KEY),
            connect_timeout_s=2.0,
            read_timeout_s=5.0,
            stream_read_timeout_s=1.0,
        )
        run_env = RunEnv(cursor=cursor, repo_url=origin, release_branch="main")
        started = time.monotonic()
        with capture_logs() as logs:
            outcome = await run_release(
                plan([fu("FU-1", priority="P2")], [("0", ["FU-1"])]),
                engine,
                run_env,
                status_path,
                install_signal_handlers=False,
            )
        elapsed_s = time.monotonic() - started
        stats = _fake_get(fake, "/_fake/stats")
        requests = _fake_get(fake, "/_fake/requests")["items"]
    assert fake.proc.poll() is not None  # the child is gone

    status = json.loads(status_path.read_text())
    (entry,) = status["batches"][0]["feature_units"]
    assert outcome.status is ReleaseStatus.FAILED
    assert entry["status"] == "needs_human"
    assert "stale: no progress" in entry["error"]
    assert stats["cancels_per_fu"] == {"FU-1": 1}
    assert STALE_S <= elapsed_s < STALE_S + 8.0 < MAX_S  # + launch, the stale GET, cancel, git
    # the stream really timed out and was reconnected, again and again
    streams = [r for r in requests if r["path"].endswith("/stream")]
    assert len(streams) >= 3
    dropped = [e for e in logs if e["event"] == "run.stream_dropped"]
    assert len(dropped) >= 2
    assert all(e["error"] == "transport_error" for e in dropped)
    assert not [e for e in logs if e["event"] == "run.no_liveness"]
