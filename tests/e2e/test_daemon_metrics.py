"""`orchd start --metrics-port`: the daemon's own Prometheus metrics (issue 11), scraped over
loopback while a real release runs against the fake Cursor server, parsed with
prometheus-client's own parser."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e import test_decide_process as decide_kit
from tests.e2e.test_decide_process import (
    NO_ACCESS,
    ORCHD,
    PROCESS_TIMEOUT_S,
    RELEASE,
    StartRelease,
    _bundle,
    _env,
)

fake_cursor = decide_kit.fake_cursor
start_release = decide_kit.start_release
remote = decide_kit.remote

pytestmark = pytest.mark.slow

METRICS = re.compile(r"^metrics: (http://127\.0\.0\.1:\d+/metrics)$", re.MULTILINE)
WAITING = re.compile(r"^waiting for you: run `orchd decide ", re.MULTILINE)


def _wait(path: Path, pattern: re.Pattern[str], proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + PROCESS_TIMEOUT_S
    while time.monotonic() < deadline:
        found = pattern.search(path.read_text())
        if found:
            return found[1] if pattern.groups else found[0]
        assert proc.poll() is None, f"orchd start exited early:\n{path.read_text()}"
        time.sleep(0.05)
    raise AssertionError(f"no line matching {pattern.pattern}")


def _samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(url, timeout=10).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.mark.parametrize("fake_cursor", [{"FU-000": NO_ACCESS}], indirect=True)
def test_the_daemon_serves_what_it_counted(
    tmp_path: Path, fake_cursor: str, start_release: StartRelease, remote: Path
) -> None:
    repo = _bundle(tmp_path)
    started = start_release(repo, _env(fake_cursor, remote), "--metrics-port", "0")
    url = _wait(started.stdout, METRICS, started.proc)
    _wait(started.stdout, WAITING, started.proc)  # batch 0 failed: FU-000 was refused

    seen = _samples(url)

    def value(name: str, **labels: str) -> float:
        return seen.get((name, tuple(sorted(labels.items()))), 0.0)

    create = {"endpoint": "/v1/agents", "method": "POST"}
    assert value("orchd_cursor_requests_total", **create, code="201") >= 1  # FU-002 launched
    assert value("orchd_cursor_requests_total", **create, code="403") == 1  # FU-000 refused
    assert value("orchd_cursor_requests_total", endpoint="/v1/me", method="GET", code="200") == 0
    assert value("orchd_launches_total") >= 2
    assert value("orchd_status_writes_total") >= 1
    agents = [k for k in seen if "bc-" in str(k)]
    assert agents == []  # one series per endpoint, never one per agent

    state = str(tmp_path / "state")
    subprocess.run(
        [*ORCHD, "decide", RELEASE, "abort", "--repo-root", str(repo), "--state-dir", state],
        check=True,
        timeout=PROCESS_TIMEOUT_S,
        capture_output=True,
    )
    assert started.proc.wait(timeout=PROCESS_TIMEOUT_S) == 3
    port = int(url.split(":")[2].split("/")[0])
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 2):
        pass  # the metrics server went with the daemon
