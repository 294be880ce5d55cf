"""An intent orchd records before acting (a follow-up run asked for) that cannot reach the disk
in time is acted on anyway, and said in one log line: a failing disk never stops the release."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

import anyio
import pytest
import structlog
from structlog.testing import capture_logs

from orchestrator.adapters.status_store import StatusWriter
from orchestrator.engine.duration_learning import DurationLearner
from orchestrator.engine.event_outbox import EventOutbox
from orchestrator.engine.slots import SlotPool
from orchestrator.models.events import FuRunRequested, StatusEvent
from tests.plans import fu, plan

pytestmark = [pytest.mark.asyncio, pytest.mark.looptime]


class NeverOnDisk:
    async def durable(self, count: int, timeout_s: float) -> bool:
        await anyio.sleep(timeout_s)
        return False


async def test_an_intent_that_cannot_be_written_is_acted_on_and_logged() -> None:
    release = plan([fu("FU-1")], [("0", ["FU-1"])])
    learner = DurationLearner(release, {"FU-1": 1.0}, SlotPool(max_parallel=1, max_high_risk=1))
    outbox = EventOutbox(learner, None, structlog.get_logger("orchd.release"))
    send, receive = anyio.create_memory_object_stream[StatusEvent](10)
    outbox.open(send, cast(StatusWriter, NeverOnDisk()))
    event = FuRunRequested(at=datetime(2026, 11, 30, tzinfo=UTC), fu_id="FU-1", agent_id="bc-1")
    with capture_logs() as logs:
        await outbox.emit_durable(event)
    assert receive.receive_nowait() == event
    assert {"event": "status.intent_not_written", "event_type": "FuRunRequested"}.items() <= (
        logs[-1].items()
    )
    send.close()
    receive.close()
