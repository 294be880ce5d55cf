"""Asking the decider, and telling everyone: the status file, the log, the webhook."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import anyio
import structlog

from orchestrator.engine.deciders import Answer, Decider, Question
from orchestrator.models.events import AwaitingDecision, DecisionTaken, StatusEvent

log = structlog.get_logger("orchd.decide")


class Notify(Protocol):
    def notify(self, event: str, text: str, **fields: Any) -> None: ...


class Asker:
    """Records that a decision is awaited, waits for the decider, records the answer."""

    def __init__(
        self,
        decider: Decider,
        emit: Callable[[StatusEvent], None],
        now: Callable[[], datetime],
        notifier: Notify | None,
    ) -> None:
        self.decider = decider
        self._emit = emit
        self._now = now
        self._notifier = notifier
        # One question at a time: the status file shows one `awaiting`, `orchd decide` answers
        # it, and no waiter can take a decision meant for another.
        self._one_at_a_time = anyio.Lock()

    def notify(self, event: str, text: str, **fields: Any) -> None:
        if self._notifier is not None:
            self._notifier.notify(event, text, **fields)

    async def batch_failed(self, release_id: str, batch_id: Decimal, failure: str) -> Answer:
        label = format(batch_id, "f")
        self.notify(
            "batch.failed",
            f"{release_id}: batch {label} failed: {failure}",
            batch_id=batch_id,
            reason=failure,
        )
        return await self.ask(Question("batch_failure", batch_id, failure))

    async def checkpoint(self, release_id: str, batch_id: Decimal, names: list[str]) -> Answer:
        text = (
            f"{release_id}: checkpoint {', '.join(names)} after batch "
            f"{format(batch_id, 'f')}: review before the release goes on"
        )
        self.notify("checkpoint.reached", text, batch_id=batch_id, checkpoints=names)
        return await self.ask(Question("checkpoint", batch_id, text))

    async def ask(self, question: Question) -> Answer:
        async with self._one_at_a_time:
            return await self._ask(question)

    async def _ask(self, question: Question) -> Answer:
        batch = format(question.batch_id, "f")
        if self.decider.awaits(question.kind):
            deadline_s = self.decider.deadline_s
            self._emit(
                AwaitingDecision(
                    at=self._now(),
                    kind=question.kind,
                    batch_id=question.batch_id,
                    choices=question.choices,
                    reason=question.reason,
                    deadline=self._now() + timedelta(seconds=deadline_s) if deadline_s else None,
                )
            )
            log.warning(
                "decision.awaited",
                kind=question.kind,
                batch_id=batch,
                choices=list(question.choices),
            )
        answer = await self.decider.ask(question)
        log.info(
            "decision.taken", kind=question.kind, action=answer.action, by=answer.by, batch_id=batch
        )
        self._emit(
            DecisionTaken(
                at=self._now(),
                kind=question.kind,
                batch_id=question.batch_id,
                action=answer.action,
                by=answer.by,
                reason=answer.reason,
            )
        )
        return answer
