"""What orchd sends Cursor to launch an FU's agent: the rendered prompt, model, repo and ref.

The agent starts from `base_sha` (the release branch head, or the batch's candidate for a
same-batch dependant), so what it builds on is exact and recorded; never secrets.
"""

from __future__ import annotations

from orchestrator.adapters.cursor.models import (
    CreateAgentRequest,
    CreateRunRequest,
    ModelRef,
    Prompt,
    RepoConfig,
)
from orchestrator.core.model_choice import model_for
from orchestrator.core.prompt import render_prompt
from orchestrator.engine.settings import EngineSettings
from orchestrator.models.release import FeatureUnit, ReleasePlan


def retry_request(unit: FeatureUnit, last_failure: str | None) -> CreateRunRequest:
    """A retry on the same agent (`follow_up_on_same_agent`): continue where it stopped."""
    text = (
        f"Your previous run on {unit.id} did not finish: {last_failure}. "
        f"Continue the work on {unit.id} from where it stopped, following the same "
        f"instructions and the specification at {unit.spec_path or 'the release manifest'}"
        ", then push your branch and open the pull request."
    )
    return CreateRunRequest(prompt=Prompt(text=text))


def create_request(
    plan: ReleasePlan,
    unit: FeatureUnit,
    settings: EngineSettings,
    *,
    agent_id: str,
    attempt: int,
    base_sha: str | None,
    contained: tuple[str, ...],
) -> CreateAgentRequest:
    _, model = model_for(unit, settings.model_tiers)
    batch_id = plan.batch_of(unit.id)
    start = base_sha or settings.release_branch
    prompt = render_prompt(
        settings.prompt_template,
        {
            "release_id": plan.release_id,
            "release_name": plan.name,
            "fu_id": unit.id,
            "fu_title": unit.name or unit.id,
            "batch_id": "" if batch_id is None else format(batch_id, "f"),
            "priority": unit.priority.value,
            "risk_level": unit.risk_level.value,
            "dependencies": ", ".join(unit.dependencies) or "none",
            "spec_path": unit.spec_path or "(no spec file found; see the release manifest)",
            "release_branch": settings.branch_for(plan.release_id),
            "base_sha": start,
            "contained_dependencies": ", ".join(contained) or "none",
            "acceptance_notes": "\n".join(x for x in (unit.description, unit.notes) if x)
            or "(none)",
            "attempt": str(attempt),
        },
    )
    name = f"{plan.release_id} {unit.id} a{attempt}"
    return CreateAgentRequest(
        prompt=Prompt(text=prompt),
        model=ModelRef(id=model) if model else None,
        name=name[:100],
        agent_id=agent_id,
        repos=[RepoConfig(url=settings.repo_url, starting_ref=start)],
        auto_create_pr=settings.auto_create_pr,
    )
