from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from orchestrator.adapters.decisions import Decision, submit_decision
from orchestrator.adapters.terminal_prompt import parse_reply
from orchestrator.engine.configure import Overrides, decision_modes
from orchestrator.engine.deciders import (
    ChannelDecider,
    PolicyDecider,
    Question,
    RoutingDecider,
)
from orchestrator.errors import InputError
from orchestrator.models.release import Limits
from tests.plans import fu, plan

FAILED = Question("batch_failure", Decimal("0.5"), "FU-050 needs_human")
CHECKPOINT = Question("checkpoint", Decimal(4), "review")


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("retry", ("retry", False)),
        ("r", ("retry", False)),
        ("retry --all", ("retry", True)),
        ("  Skip ", ("skip", False)),
        ("a", ("abort", False)),
        ("skip --all", None),
        ("", None),
        ("continue", None),
    ],
)
def test_terminal_replies(reply: str, expected: tuple[str, bool] | None) -> None:
    assert parse_reply(reply, FAILED.choices) == expected


@pytest.mark.asyncio
@pytest.mark.looptime
async def test_channel_takes_the_decision_for_its_batch(tmp_path: Path) -> None:
    control = tmp_path / "state" / "releases" / "v0.1.1-0123456789ab"
    submit_decision(control, Decision(action="retry", batch_id=Decimal("0.5"), all_fus=True))
    answer = await ChannelDecider(control, poll_s=1).ask(FAILED)
    assert (answer.action, answer.all_fus) == ("retry", True)


@pytest.mark.asyncio
@pytest.mark.looptime
async def test_channel_aborts_when_the_deadline_passes(tmp_path: Path) -> None:
    import anyio

    start = anyio.current_time()
    answer = await ChannelDecider(tmp_path / "s.json", deadline_s=600, poll_s=1).ask(FAILED)
    assert (answer.action, answer.by) == ("abort", "deadline")
    assert anyio.current_time() - start == pytest.approx(600, abs=1)


@pytest.mark.asyncio
async def test_routing_answers_each_kind_with_its_own_policy() -> None:
    decider = RoutingDecider(PolicyDecider(on_batch_failure="skip"), PolicyDecider())
    assert (await decider.ask(FAILED)).action == "skip"
    assert (await decider.ask(CHECKPOINT)).action == "continue"
    assert not decider.awaits("batch_failure")


P = plan([fu("FU-1")], [("0", ["FU-1"])])


@pytest.mark.parametrize(
    ("limits", "overrides", "interactive", "env", "expected"),
    [
        (Limits(), Overrides(), True, {}, ("prompt", "prompt", None)),
        (Limits(), Overrides(), False, {}, ("wait", "wait", None)),
        (Limits(on_batch_failure="skip"), Overrides(), False, {}, ("skip", "wait", None)),
        (
            Limits(on_batch_failure="skip"),
            Overrides(on_batch_failure="abort"),
            False,
            {},
            ("abort", "wait", None),
        ),
        (
            Limits(),
            Overrides(),
            False,
            {"ORCHD_ON_CHECKPOINT": "continue"},
            ("wait", "continue", None),
        ),
        (Limits(decision_deadline_minutes=4), Overrides(), False, {}, ("wait", "wait", 240.0)),
        (Limits(on_batch_failure="prompt"), Overrides(), False, {}, ("wait", "wait", None)),
    ],
)
def test_decision_modes_flag_then_manifest_then_terminal_default(
    limits: Limits,
    overrides: Overrides,
    interactive: bool,
    env: dict[str, str],
    expected: tuple[str, str, float | None],
) -> None:
    modes = decision_modes(
        P.model_copy(update={"limits": limits}), overrides, interactive=interactive, env=env
    )
    assert (modes.on_batch_failure, modes.on_checkpoint, modes.deadline_s) == expected


def test_unknown_decision_mode_is_an_input_error() -> None:
    with pytest.raises(InputError, match="on-batch-failure"):
        decision_modes(P, Overrides(on_batch_failure="later"), interactive=False, env={})


def test_gate_commands_do_not_inherit_the_cursor_key_or_the_webhook() -> None:
    from orchestrator.engine.configure import engine_settings

    env = {
        "PATH": "/usr/bin",
        "CURSOR_CLOUD_API_KEY": "sk-secret",
        "ORCHD_NOTIFY_URL": "https://hooks.example/T/secret",
        "DATABASE_URL": "postgres://x",
    }
    settings = engine_settings(
        P,
        Overrides(),
        repo_url="https://github.com/a/b",
        release_branch="main",
        prompt_template="$fu_id",
        env=env,
    )
    assert settings.gate.extra_env == {"PATH": "/usr/bin", "DATABASE_URL": "postgres://x"}
