"""systemd's readiness protocol (sd_notify(3)): `KEY=value` lines in one datagram to the unix
socket named by `$NOTIFY_SOCKET` (a path, or `@name` for an abstract socket).

A `Type=notify` unit learns from it that orchd is ready (`READY=1`), where the release is
(`STATUS=…`, shown by `systemctl status`), that its event loop still turns (`WATCHDOG=1`, at half
of `$WATCHDOG_USEC`; a hung orchd is killed and restarted, and resumes) and that it is on its way
out (`STOPPING=1`). Without `$NOTIFY_SOCKET` every call is a no-op. A send that fails is logged
once and never stops the release: supervision matters more than the unit's status line.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

import anyio
import structlog

log = structlog.get_logger("orchd.service")


class ServiceNotifier:
    """Talks to the service manager that started orchd, if one listens."""

    def __init__(self, address: str | None, *, watchdog_usec: int | None = None) -> None:
        self._address = _socket_address(address) if address else None
        self._watchdog_usec = watchdog_usec if watchdog_usec and watchdog_usec > 0 else None
        self._sock: socket.socket | None = None
        self._last_status: str | None = None
        self._warned = False
        self._stopping = False

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, pid: int | None = None) -> ServiceNotifier:
        """`$NOTIFY_SOCKET`, and the watchdog only when `$WATCHDOG_PID` (if set) is this
        process: a child that inherited the variables must not feed its parent's watchdog."""
        address = env.get("NOTIFY_SOCKET", "").strip() or None
        usec = env.get("WATCHDOG_USEC", "").strip()
        owner = env.get("WATCHDOG_PID", "").strip()
        mine = not owner or owner == str(pid if pid is not None else os.getpid())
        watchdog = int(usec) if usec.isdigit() and mine else None
        return cls(address, watchdog_usec=watchdog)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    @property
    def watchdog_interval_s(self) -> float | None:
        """How often to send `WATCHDOG=1`: half the manager's timeout, as sd_watchdog_enabled(3)
        recommends; None when no watchdog is asked for."""
        if self._address is None or self._watchdog_usec is None:
            return None
        return self._watchdog_usec / 2 / 1_000_000

    def ready(self, status: str | None = None) -> None:
        self._send("READY=1", status)

    def status(self, text: str) -> None:
        """`STATUS=` when it changed (a status line per status-file write would be noise)."""
        if text != self._last_status:
            self._send(None, text)

    def stopping(self, status: str | None = None) -> None:
        """`STOPPING=1`, once: orchd is on its way out (abort, detach, or the release ended)."""
        if self._stopping:
            if status is not None:
                self.status(status)
            return
        self._stopping = True
        self._send("STOPPING=1", status)

    def watchdog(self) -> None:
        self._send("WATCHDOG=1", None)

    async def keep_alive(self) -> None:
        """Feed the watchdog from the event loop until cancelled: if the loop hangs, the pings
        stop and the manager restarts orchd (which then adopts its runs)."""
        interval_s = self.watchdog_interval_s
        if interval_s is None:
            return
        while True:
            self.watchdog()
            await anyio.sleep(interval_s)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _send(self, state: str | None, status: str | None) -> None:
        if self._address is None:
            return
        lines = [state] if state else []
        if status is not None:
            text = " ".join(status.split())  # one line: a newline would start another field
            lines.append(f"STATUS={text}")
            self._last_status = status
        if not lines:
            return
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._sock.setblocking(False)  # never stall the event loop on a full queue
            self._sock.sendto("\n".join(lines).encode(), self._address)
        except OSError as exc:
            if not self._warned:  # once: a watchdog ping every few seconds would flood the log
                self._warned = True
                log.warning("service.notify_failed", error=exc.strerror or str(exc))


def _socket_address(address: str) -> str | bytes:
    """`@name` is Linux's abstract namespace (a leading NUL byte); anything else is a path."""
    if address.startswith("@"):
        return b"\0" + address[1:].encode()
    return address
