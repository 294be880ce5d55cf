"""Engine settings from the plan's strategy, environment and command-line overrides (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from orchestrator.engine.settings import EngineSettings
from orchestrator.models.release import ReleasePlan


@dataclass(frozen=True)
class Overrides:
    """Command-line values; None means "use the manifest's or the default"."""

    poll_interval_s: float | None = None
    stale_after_minutes: float | None = None
    max_duration_minutes: float | None = None
    strict_batches: bool = False
    use_stream: bool | None = None
    retry_backoff_s: float | None = None


def engine_settings(
    plan: ReleasePlan,
    overrides: Overrides,
    *,
    repo_url: str,
    release_branch: str,
    prompt_template: str,
    env: Mapping[str, str],
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

    return EngineSettings(
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
        archive_finished_agents=limits.archive_finished_agents,
    )
