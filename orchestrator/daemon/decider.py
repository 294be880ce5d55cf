"""Who answers a batch failure or a checkpoint: a policy, the `orchd decide` channel, or a
terminal prompt raced with it, per question kind.

Separate from the run: it wires the engine's deciders to the terminal and the state dir,
both of which belong to the process edge.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from orchestrator.adapters.terminal_prompt import ask_terminal
from orchestrator.engine.configure import DecisionModes
from orchestrator.engine.deciders import (
    Answer,
    ChannelDecider,
    Decider,
    PolicyDecider,
    Question,
    RacingDecider,
    RoutingDecider,
)

# async: the display may wait for the status write that shows the question before the prompt
PauseDisplay = Callable[[], contextlib.AbstractAsyncContextManager[None]]


def build_decider(
    modes: DecisionModes, control_dir: Path, pause_display: PauseDisplay | None = None
) -> Decider:
    """Policy, `orchd decide` channel, or terminal prompt raced with it, per question kind.
    `control_dir` is the release's folder in the state dir, where `orchd decide` writes."""

    async def _prompt(question: Question) -> Answer:
        async with pause_display() if pause_display else contextlib.nullcontext():
            action, all_fus = await ask_terminal(
                question.kind, format(question.batch_id, "f"), question.reason, question.choices
            )
        return Answer(action=action, by="terminal", all_fus=all_fus)

    def for_mode(mode: str) -> Decider:
        if mode in {"abort", "skip", "fail", "continue"}:
            return PolicyDecider(on_batch_failure=mode, on_checkpoint=mode)
        channel = ChannelDecider(control_dir, deadline_s=modes.deadline_s)
        if mode == "prompt":
            return RacingDecider(channel, prompt=_prompt, deadline_s=modes.deadline_s)
        return channel

    return RoutingDecider(for_mode(modes.on_batch_failure), for_mode(modes.on_checkpoint))
