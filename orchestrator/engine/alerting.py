"""The seed's alerts while a release runs: look for stalls and failure rates now and then, and
tell people about every new alert once (webhook and log), whoever raised it.

Timeouts and gate failures are raised where they happen (the FU task, the lander); this watch
adds the ones only time reveals. Every alert reaches the status file's `alerts[]` through the
writer like any event; what is told is read back from the written snapshot, so the webhook, the
log, the terminal and the dashboard all say the same thing, once.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import structlog

from orchestrator.core.alerts import watch_alerts
from orchestrator.engine.asking import Notify
from orchestrator.engine.settings import EngineSettings
from orchestrator.models.events import StatusEvent
from orchestrator.models.status import StatusFile

log = structlog.get_logger("orchd.alerts")


class AlertWatch:
    def __init__(
        self,
        release_id: str,
        settings: EngineSettings,
        emit: Callable[[StatusEvent], None],
        notifier: Notify,
        earlier: StatusFile | None,
    ) -> None:
        self.release_id = release_id
        self.settings = settings
        self.emit = emit
        self.notifier = notifier
        self._raised: set[str] = set()
        # alerts an earlier run already told about are not told again after a restart
        self._told: set[str] = {a.key for a in earlier.alerts} if earlier else set()

    async def run(self, snapshot: Callable[[], StatusFile]) -> None:
        """Every `alert_check_s`, raise the stalls and failure rates the file shows."""
        while True:
            await anyio.sleep(self.settings.alert_check_s)
            found = watch_alerts(
                snapshot(),
                self.settings.now(),
                stalled_after_s=self.settings.stalled_after_s,
                failure_rate_limit=self.settings.alert_failure_rate,
            )
            for alert in found:
                if alert.key not in self._raised:
                    self._raised.add(alert.key)
                    self.emit(alert)

    def written(self, snapshot: StatusFile) -> None:
        """Called after each status write: tell about alerts not told yet."""
        for alert in snapshot.alerts:
            if alert.key in self._told:
                continue
            self._told.add(alert.key)
            log.warning("alert.raised", kind=alert.kind, key=alert.key, message=alert.message)
            self.notifier.notify(
                f"alert.{alert.kind}",
                f"{self.release_id}: alert: {alert.message}",
                alert=alert.kind,
                fu_id=alert.fu_id,
                batch_id=alert.batch_id,
            )
