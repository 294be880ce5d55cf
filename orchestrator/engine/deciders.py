"""Who answers when a batch fails or a checkpoint is reached: a policy, a human, a deadline.

The engine asks a `Decider`; the daemon picks one from the command line: a fixed policy for
unattended runs (`abort`, `skip`, `fail`, `continue`), the control-file channel that
`orchd decide` writes to (`wait`, optionally with a deadline), or a terminal prompt raced with
that channel.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Literal, Protocol

import anyio
import structlog

from orchestrator.adapters.decisions import next_decision

log = structlog.get_logger("orchd.decide")

QuestionKind = Literal["batch_failure", "checkpoint"]
BATCH_FAILURE_CHOICES = ("retry", "fix", "skip", "abort")
CHECKPOINT_CHOICES = ("continue", "abort")


@dataclass(frozen=True)
class Question:
    kind: QuestionKind
    batch_id: Decimal
    reason: str

    @property
    def choices(self) -> tuple[str, ...]:
        return BATCH_FAILURE_CHOICES if self.kind == "batch_failure" else CHECKPOINT_CHOICES


@dataclass(frozen=True)
class Answer:
    action: str
    by: str
    all_fus: bool = False
    reason: str = ""


class Decider(Protocol):
    @property
    def deadline_s(self) -> float | None:
        """How long a human has to answer; None waits for ever."""
        ...

    def awaits(self, kind: QuestionKind) -> bool:
        """True when a human (or `orchd decide`) is asked, so the status file says so."""
        ...

    async def ask(self, question: Question) -> Answer: ...


@dataclass
class PolicyDecider:
    """Unattended: the same answer every time (`fail` ends the batch as failed, no question)."""

    on_batch_failure: str = "fail"
    on_checkpoint: str = "continue"
    deadline_s: float | None = None

    def awaits(self, kind: QuestionKind) -> bool:
        return False

    async def ask(self, question: Question) -> Answer:
        action = self.on_batch_failure if question.kind == "batch_failure" else self.on_checkpoint
        return Answer(action=action, by="policy")


@dataclass
class ChannelDecider:
    """Waits for `orchd decide` (a control file beside the status file), up to a deadline.

    When the deadline passes the release is aborted, so an unattended run always ends.
    """

    status_path: Path
    deadline_s: float | None = None
    poll_s: float = 0.5
    on_deadline: str = "abort"

    def awaits(self, kind: QuestionKind) -> bool:
        return True

    async def ask(self, question: Question) -> Answer:
        with anyio.move_on_after(self.deadline_s if self.deadline_s else float("inf")):
            decision = await next_decision(
                self.status_path,
                poll_s=self.poll_s,
                choices=question.choices,
                batch_id=question.batch_id,
            )
            return Answer(
                action=decision.action,
                by=decision.by,
                all_fus=decision.all_fus,
                reason=decision.reason,
            )
        log.warning("decision.deadline_passed", batch_id=str(question.batch_id))
        action = self.on_deadline if self.on_deadline in question.choices else "abort"
        return Answer(action=action, by="deadline", reason="no decision before the deadline")


PromptFn = Callable[[Question], Awaitable[Answer]]


@dataclass
class RacingDecider:
    """A terminal prompt and the control-file channel; whichever answers first wins."""

    channel: ChannelDecider
    prompt: PromptFn
    deadline_s: float | None = None

    def awaits(self, kind: QuestionKind) -> bool:
        return True

    async def ask(self, question: Question) -> Answer:
        answers: list[Answer] = []
        async with anyio.create_task_group() as group:

            async def take(source: Callable[[Question], Awaitable[Answer]]) -> None:
                answers.append(await source(question))
                group.cancel_scope.cancel()

            group.start_soon(take, self.channel.ask)
            group.start_soon(take, self.prompt)
        return answers[0]


@dataclass
class RoutingDecider:
    """Batch failures and checkpoints may be answered differently (e.g. skip vs continue)."""

    batch_failure: Decider
    checkpoint: Decider

    @property
    def deadline_s(self) -> float | None:
        return self.batch_failure.deadline_s or self.checkpoint.deadline_s

    def _for(self, kind: QuestionKind) -> Decider:
        return self.batch_failure if kind == "batch_failure" else self.checkpoint

    def awaits(self, kind: QuestionKind) -> bool:
        return self._for(kind).awaits(kind)

    async def ask(self, question: Question) -> Answer:
        return await self._for(question.kind).ask(question)
