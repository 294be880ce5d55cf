"""systemd's notify protocol reaches a unix datagram socket the test owns, as systemd would read
it: one datagram per message, `KEY=value` lines."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from orchestrator.adapters.sd_notify import ServiceNotifier


class Manager:
    """The service manager's end: a bound datagram socket; `received()` drains it."""

    def __init__(self, address: str | bytes) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.setblocking(False)

    def received(self) -> list[str]:
        got: list[str] = []
        while True:
            try:
                got.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return got


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[tuple[str, Manager]]:
    path = tmp_path / "notify.sock"
    listener = Manager(str(path))
    yield str(path), listener
    listener.sock.close()


def test_ready_status_and_stopping_arrive_as_systemd_reads_them(
    manager: tuple[str, Manager],
) -> None:
    address, listener = manager
    service = ServiceNotifier.from_env({"NOTIFY_SOCKET": address})
    service.ready("starting: release/v0.1.1 at 0123456789ab")
    service.status("batch 2: 3 running, 11/28 landed")
    service.status("batch 2: 3 running, 11/28 landed")  # unchanged: not sent again
    service.status("batch 2: 2 running,\n12/28 landed")  # a newline would start a field
    service.stopping("detaching: every agent keeps running")
    service.stopping()  # once
    service.close()
    assert listener.received() == [
        "READY=1\nSTATUS=starting: release/v0.1.1 at 0123456789ab",
        "STATUS=batch 2: 3 running, 11/28 landed",
        "STATUS=batch 2: 2 running, 12/28 landed",
        "STOPPING=1\nSTATUS=detaching: every agent keeps running",
    ]


def test_an_abstract_socket_address_is_reached() -> None:
    name = f"orchd-test-{uuid.uuid4().hex}"
    listener = Manager(b"\0" + name.encode())
    try:
        service = ServiceNotifier.from_env({"NOTIFY_SOCKET": f"@{name}"})
        service.ready()
        service.watchdog()
        service.close()
        assert listener.received() == ["READY=1", "WATCHDOG=1"]
    finally:
        listener.sock.close()


@pytest.mark.parametrize(
    ("env", "interval_s"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 15.0),  # half of what systemd waits
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),  # meant for another pid
        ({"WATCHDOG_USEC": "0"}, None),
        ({}, None),
    ],
)
def test_the_watchdog_is_fed_at_half_its_timeout_only_when_meant_for_this_process(
    manager: tuple[str, Manager], env: dict[str, str], interval_s: float | None
) -> None:
    address, _ = manager
    service = ServiceNotifier.from_env({"NOTIFY_SOCKET": address, **env})
    assert service.watchdog_interval_s == interval_s


def test_without_notify_socket_nothing_is_sent_and_nothing_fails() -> None:
    service = ServiceNotifier.from_env({"WATCHDOG_USEC": "1000000"})
    assert not service.enabled
    assert service.watchdog_interval_s is None
    with capture_logs() as logs:
        service.ready("x")
        service.status("y")
        service.stopping()
    assert logs == []


def test_a_socket_nobody_listens_on_is_logged_once_and_the_release_goes_on(
    tmp_path: Path,
) -> None:
    service = ServiceNotifier.from_env({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    with capture_logs() as logs:
        service.ready()
        for _ in range(5):
            service.watchdog()
    service.close()
    failures = [entry for entry in logs if entry["event"] == "service.notify_failed"]
    assert len(failures) == 1
    assert failures[0]["log_level"] == "warning"
