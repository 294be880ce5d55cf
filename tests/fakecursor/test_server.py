"""The fake over real loopback HTTP: library context manager and `orchd fake-cursor`."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from orchestrator.fakecursor.app import FakeCursor
from orchestrator.fakecursor.scenario import Scenario
from orchestrator.fakecursor.server import serve_fake_cursor
from tests.fakecursor.conftest import agent_body

pytestmark = pytest.mark.slow
TIMEOUT = httpx.Timeout(5.0)


@pytest.mark.asyncio
async def test_loopback_server_serves_the_api_and_drops_connections_for_real() -> None:
    scenario = Scenario.model_validate({"drops": {"request_ranges": [[2, 2]]}})
    fake = FakeCursor(scenario, api_key="k")
    async with (
        serve_fake_cursor(fake) as base_url,
        httpx.AsyncClient(auth=("k", ""), timeout=TIMEOUT) as client,
    ):
        assert base_url.startswith("http://127.0.0.1:")
        assert base_url.endswith("/v1")
        created = await client.post(base_url + "/agents", json=agent_body())
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(base_url + "/agents")
        listed = await client.get(base_url + "/agents")
    assert created.status_code == 201
    assert [a["id"] for a in listed.json()["items"]] == [created.json()["agent"]["id"]]
    assert fake.stats()["dropped"] == 1


def test_orchd_fake_cursor_prints_its_url_serves_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("defaults:\n  duration_s: 60\n")
    orchd = [sys.executable, "-m", "orchestrator"]
    args = ["fake-cursor", "--port", "0", "--api-key", "sub-key", "--scenario", str(scenario)]
    proc = subprocess.Popen(
        [*orchd, *args, "--time-scale", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 15)
        assert ready, "orchd fake-cursor printed no URL within 15 s"
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        me = httpx.get(base_url + "/me", auth=("sub-key", ""), timeout=TIMEOUT)
        stats = httpx.get(base_url.removesuffix("/v1") + "/_fake/stats", timeout=TIMEOUT)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
        if proc.stderr is not None:
            proc.stderr.close()
    assert me.status_code == 200
    assert stats.json()["time_scale"] == 60
    assert code == 0


def test_orchd_fake_cursor_on_a_busy_port_says_so_in_one_line_and_exits_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "orchestrator", "fake-cursor", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert result.stdout == ""  # no base URL: nothing is served
    assert result.stderr == (
        f"orchd: port {port} on 127.0.0.1 is in use (Address already in use): stop what "
        "listens there, or pick another port (--port 0 picks a free one)\n"
    )
