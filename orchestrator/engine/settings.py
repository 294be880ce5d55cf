"""Everything the engine needs besides the plan, resolved from manifest, config and flags."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from orchestrator.clock import utcnow
from orchestrator.models.release import RetryPolicy


@dataclass(frozen=True)
class EngineSettings:
    repo_url: str
    release_branch: str = "main"
    poll_interval_s: float = 60.0
    stale_after_s: float = 15 * 60.0
    max_duration_s: float = 120 * 60.0
    strict_batches: bool = False
    auto_create_pr: bool = True
    use_stream: bool = True
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    model_tiers: Mapping[str, str | None] = field(default_factory=dict)
    prompt_template: str = "$fu_id: $fu_title"
    cancel_grace_s: float = 20.0
    archive_finished_agents: bool = True
    coalesce_s: float = 0.1
    now: Callable[[], datetime] = utcnow
