"""Engine settings from the plan's strategy, environment and command-line overrides (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from orchestrator.engine.settings import EngineSettings, GateSettings
from orchestrator.errors import InputError
from orchestrator.models.release import ReleasePlan

_BRANCH_RE = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._/-]*[A-Za-z0-9_-]")

# The Cursor key and the webhook URL (which embeds a token) are orchd's, not the tests'.
_KEPT_FROM_GATES = frozenset({"CURSOR_CLOUD_API_KEY", "ORCHD_NOTIFY_URL"})


@dataclass(frozen=True)
class Overrides:
    """Command-line values; None means "use the manifest's or the default"."""

    poll_interval_s: float | None = None
    stale_after_minutes: float | None = None
    max_duration_minutes: float | None = None
    strict_batches: bool = False
    use_stream: bool | None = None
    retry_backoff_s: float | None = None
    gate_command: str | None = None
    strict_gate: bool = False
    on_batch_failure: str | None = None
    on_checkpoint: str | None = None
    decision_deadline_minutes: float | None = None
    integration_branch: str | None = None
    state_dir: Path | None = None


def engine_settings(
    plan: ReleasePlan,
    overrides: Overrides,
    *,
    repo_url: str,
    release_branch: str,
    prompt_template: str,
    env: Mapping[str, str],
    repo_root: Path = Path("."),
) -> EngineSettings:
    limits = plan.limits
    tiers = dict(limits.model_tiers)
    for tier in ("low", "medium", "high"):
        # like the original: CURSOR_MODEL_LOW|MEDIUM|HIGH override the configured tier models
        value = env.get(f"CURSOR_MODEL_{tier.upper()}", "").strip()
        if value:
            tiers[tier] = value

    def pick(override: float | None, default: float) -> float:
        return default if override is None else override

    for flag, given in (
        ("--poll-interval", overrides.poll_interval_s),
        ("--stale-after", overrides.stale_after_minutes),
        ("--max-duration", overrides.max_duration_minutes),
        ("--retry-backoff", overrides.retry_backoff_s),
    ):
        if given is not None and not (0 < given < float("inf")):
            raise InputError(f"{flag} must be a positive number, got {given:g}")
    deadline = overrides.decision_deadline_minutes
    if deadline is not None and not (0 <= deadline < float("inf")):
        raise InputError(f"--decision-deadline must be 0 (no limit) or more, got {deadline:g}")

    branch = (overrides.integration_branch or limits.integration_branch or "").strip()
    if (branch and not _BRANCH_RE.fullmatch(branch)) or ".." in branch or branch.endswith(".lock"):
        raise InputError(
            f"integration branch {branch!r} is not a valid git branch name "
            "(--integration-branch / execution_strategy.integration_branch)"
        )
    return EngineSettings(
        integration_branch=branch,
        max_conflict_rounds=limits.max_conflict_rounds,
        state_dir=overrides.state_dir,
        repo_url=repo_url,
        release_branch=release_branch,
        poll_interval_s=pick(overrides.poll_interval_s, limits.poll_interval_s),
        stale_after_s=pick(overrides.stale_after_minutes, limits.stale_after_minutes) * 60.0,
        max_duration_s=pick(overrides.max_duration_minutes, limits.max_duration_minutes) * 60.0,
        strict_batches=overrides.strict_batches,
        auto_create_pr=limits.auto_create_pr,
        use_stream=limits.use_stream if overrides.use_stream is None else overrides.use_stream,
        retry=limits.retry
        if overrides.retry_backoff_s is None
        else limits.retry.model_copy(update={"backoff_initial_s": overrides.retry_backoff_s}),
        model_tiers=tiers,
        prompt_template=prompt_template,
        cancel_grace_s=limits.cancel_grace_s,
        stalled_after_s=limits.stalled_after_minutes * 60.0,
        alert_failure_rate=limits.alert_failure_rate,
        archive_finished_agents=limits.archive_finished_agents,
        gate=GateSettings(
            template=limits.gate_command_template,
            overrides=dict(limits.gate_overrides),
            release_command=overrides.gate_command or limits.gate_command,
            timeout_s=limits.gate_timeout_s,
            shell=limits.gate_shell,
            strict=overrides.strict_gate or limits.strict_gate,
            workdir=repo_root,  # unused by batch gates: they run in a worktree of the candidate
            extra_env={k: v for k, v in env.items() if k not in _KEPT_FROM_GATES},
        ),
    )


@dataclass(frozen=True)
class DecisionModes:
    on_batch_failure: str  # wait | prompt | abort | skip | fail
    on_checkpoint: str  # wait | prompt | continue
    deadline_s: float | None


_FAILURE_MODES = ("wait", "prompt", "abort", "skip", "fail")
_CHECKPOINT_MODES = ("wait", "prompt", "continue")


def decision_modes(
    plan: ReleasePlan, overrides: Overrides, *, interactive: bool, env: Mapping[str, str]
) -> DecisionModes:
    """Flag, then manifest, then the default: prompt on a terminal, else wait for `orchd decide`."""
    default = "prompt" if interactive else "wait"
    failure = overrides.on_batch_failure or plan.limits.on_batch_failure or default
    checkpoint = (
        overrides.on_checkpoint
        or env.get("ORCHD_ON_CHECKPOINT", "").strip()
        or plan.limits.on_checkpoint
        or default
    )
    if failure not in _FAILURE_MODES:
        raise InputError(f"--on-batch-failure must be one of {', '.join(_FAILURE_MODES)}")
    if checkpoint not in _CHECKPOINT_MODES:
        raise InputError(
            f"--on-checkpoint / ORCHD_ON_CHECKPOINT must be one of {', '.join(_CHECKPOINT_MODES)}"
        )
    if not interactive:
        failure = "wait" if failure == "prompt" else failure
        checkpoint = "wait" if checkpoint == "prompt" else checkpoint
    minutes = (
        overrides.decision_deadline_minutes
        if overrides.decision_deadline_minutes is not None
        else plan.limits.decision_deadline_minutes
    )
    return DecisionModes(failure, checkpoint, minutes * 60.0 if minutes and minutes > 0 else None)
