"""Everything the engine needs besides the plan, resolved from manifest, config and flags."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from orchestrator.clock import utcnow
from orchestrator.models.gate import GateTestResult
from orchestrator.models.release import RetryPolicy

GateRunner = Callable[..., Awaitable[list[GateTestResult]]]
"""`run_gate(steps, *, workdir, env, timeout_s, log_path)`; injected so tests can fake it."""


@dataclass(frozen=True)
class GateSettings:
    """Integration tests after each batch (neotoma's template runs a test file with npm)."""

    template: str | None = "npm run test:integration -- {file}"
    overrides: Mapping[str, str] = field(default_factory=dict)
    release_command: str | None = None
    timeout_s: float = 300.0
    shell: bool = False
    strict: bool = False
    workdir: Path = Path(".")
    full_suite_after_last: bool = True
    runner: GateRunner | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)


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
    stalled_after_s: float = 30 * 60.0  # the "batch stalled" alert
    alert_failure_rate: float = 0.2  # the "high failure rate" alert
    alert_check_s: float = 60.0  # how often stalls and failure rates are looked for
    gate: GateSettings = field(default_factory=GateSettings)
    now: Callable[[], datetime] = utcnow
    # the release branch
    integration_branch: str = ""  # empty: release/<release_id>
    max_conflict_rounds: int = 2
    state_dir: Path | None = None  # orchd's git cache and gate worktrees (None: XDG state dir)
    git_timeout_s: float = 600.0

    def branch_for(self, release_id: str) -> str:
        return self.integration_branch or f"release/{release_id}"
