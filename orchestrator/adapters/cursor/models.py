"""Pydantic models of the Cursor Cloud Agents v1 schemas orchd uses.

Requests are strict (unknown fields are a bug in orchd) and serialise exactly to the spec's JSON
with `to_body()`; responses tolerate extra fields (Cursor adds fields over time) but reject an
unknown run status, because run status is what drives orchd and guessing there is unsafe.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from orchestrator.core.agent_ids import AGENT_ID_RE

AGENT_ID_PATTERN = AGENT_ID_RE.pattern


class _Request(BaseModel):
    """Base for bodies orchd sends: camelCase on the wire, no extras, None means 'omit'."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    def to_body(self) -> dict[str, Any]:
        """The JSON object the spec expects: camelCase keys, unset/None fields left out."""
        body: dict[str, Any] = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return body


class _Response(BaseModel):
    """Base for bodies Cursor returns: camelCase on the wire, unknown fields kept, not rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="allow", frozen=True
    )


# --- requests ---------------------------------------------------------------------------------


class ImageInput(_Request):
    data: str | None = Field(default=None, min_length=1)
    url: str | None = None
    mime_type: str | None = Field(default=None, min_length=1)


class Prompt(_Request):
    text: str = Field(min_length=1)
    images: list[ImageInput] | None = Field(default=None, max_length=5)


class ModelParam(_Request):
    id: str = Field(min_length=1)
    value: str = Field(min_length=1)


class ModelRef(_Request):
    id: str = Field(min_length=1)
    params: list[ModelParam] | None = None


class RepoConfig(_Request):
    """A repository orchd asks the agent to work on (response side: RepoInfo)."""

    url: str = Field(min_length=1)
    starting_ref: str | None = Field(default=None, min_length=1)
    pr_url: str | None = None


class AgentMode(StrEnum):
    AGENT = "agent"
    PLAN = "plan"


class CreateAgentRequest(_Request):
    """Body of `POST /v1/agents`. orchd sets `agent_id` (idempotent launch), never envVars."""

    prompt: Prompt
    model: ModelRef | None = None
    name: str | None = Field(default=None, min_length=1, max_length=100)
    agent_id: str | None = Field(default=None, pattern=AGENT_ID_PATTERN)
    repos: list[RepoConfig] | None = Field(default=None, max_length=20)
    work_on_current_branch: bool | None = None
    auto_create_pr: bool | None = Field(default=None, alias="autoCreatePR")
    skip_reviewer_request: bool | None = None
    mode: AgentMode | None = None


class CreateRunRequest(_Request):
    """Body of `POST /v1/agents/{id}/runs`: a follow-up prompt on the same agent."""

    prompt: Prompt
    mode: AgentMode | None = None


# --- responses --------------------------------------------------------------------------------


class RunStatus(StrEnum):
    CREATING = "CREATING"
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    ERROR = "ERROR"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({RunStatus.FINISHED, RunStatus.ERROR, RunStatus.CANCELLED, RunStatus.EXPIRED})


def parse_run_status(value: object) -> RunStatus:
    """Map the wire value to RunStatus; an unknown value is a clear error naming what was seen."""
    try:
        return RunStatus(str(value))
    except ValueError:
        allowed = ", ".join(s.value for s in RunStatus)
        raise ValueError(f"unknown run status {value!r} (expected one of {allowed})") from None


class AgentEnv(_Response):
    type: str
    name: str | None = None


class RepoInfo(_Response):
    url: str
    starting_ref: str | None = None
    pr_url: str | None = None


class AgentSummary(_Response):
    """An agent's lifecycle record; `status` is open-ended (ACTIVE/ARCHIVED/IDLE…)."""

    id: str
    status: str
    url: str
    created_at: datetime
    updated_at: datetime
    name: str | None = None
    env: AgentEnv | None = None
    latest_run_id: str | None = None


class Agent(AgentSummary):
    repos: list[RepoInfo] = Field(default_factory=list)
    work_on_current_branch: bool | None = None
    auto_create_pr: bool | None = Field(default=None, alias="autoCreatePR")
    skip_reviewer_request: bool | None = None


class GitBranch(_Response):
    repo_url: str
    branch: str | None = None
    pr_url: str | None = None


class GitInfo(_Response):
    branches: list[GitBranch] = Field(default_factory=list)


class Run(_Response):
    """One execution on an agent. Its `status` is the source of truth for orchd."""

    id: str
    agent_id: str
    status: RunStatus
    created_at: datetime
    updated_at: datetime
    duration_ms: int | None = Field(default=None, ge=0)
    result: str | None = None
    git: GitInfo | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _known_status(cls, value: object) -> RunStatus:
        return parse_run_status(value)

    @property
    def branches(self) -> list[GitBranch]:
        return self.git.branches if self.git else []

    @property
    def pr_url(self) -> str | None:
        """The first PR URL Cursor reported for this agent, if any."""
        return next((b.pr_url for b in self.branches if b.pr_url), None)


class CreateAgentResponse(_Response):
    agent: Agent
    run: Run


class CreateRunResponse(_Response):
    run: Run


class AgentList(_Response):
    """A page of agents. Items are AgentSummary on the wire; Agent only adds optional fields."""

    items: list[Agent]
    next_cursor: str | None = None


class RunList(_Response):
    items: list[Run]
    next_cursor: str | None = None


class IdResponse(_Response):
    id: str


class TokenUsage(_Response):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    total_tokens: int = 0


class RunUsage(_Response):
    id: str
    usage: TokenUsage
    usage_uuid: str | None = None


class Usage(_Response):
    """`GET /v1/agents/{id}/usage`: token totals for the agent and per run."""

    total_usage: TokenUsage
    runs: list[RunUsage] = Field(default_factory=list)


class Me(_Response):
    """`GET /v1/me`: which API key is in use (never the key itself)."""

    api_key_name: str
    created_at: datetime
    user_id: int | None = None
    user_email: str | None = None
    user_first_name: str | None = None
    user_last_name: str | None = None


class ModelInfo(_Response):
    id: str
    display_name: str
    description: str | None = None
    aliases: list[str] = Field(default_factory=list)


class ModelList(_Response):
    items: list[ModelInfo]


# --- stream -----------------------------------------------------------------------------------

StreamEventType = Literal[
    "status",
    "assistant",
    "thinking",
    "tool_call",
    "interaction_update",
    "heartbeat",
    "result",
    "error",
    "done",
]

KNOWN_STREAM_EVENTS: frozenset[str] = frozenset(get_args(StreamEventType))


class StreamEvent(BaseModel):
    """One Server-Sent Event of a run stream. `data` is parsed JSON, or the raw text if not JSON.

    `event` stays a plain string: new event types must not break a running release.
    """

    model_config = ConfigDict(frozen=True)

    event: str = "message"
    id: str | None = None
    data: Any = None
    raw_data: str = ""
    retry_ms: int | None = None

    @classmethod
    def from_fields(
        cls, *, event: str | None, id: str | None, data: str, retry_ms: int | None
    ) -> StreamEvent:
        try:
            parsed: Any = json.loads(data) if data else None
        except ValueError:
            parsed = data
        return cls(event=event or "message", id=id, data=parsed, raw_data=data, retry_ms=retry_ms)

    @property
    def is_heartbeat(self) -> bool:
        return self.event == "heartbeat"

    @property
    def is_done(self) -> bool:
        return self.event == "done"

    @property
    def run_status(self) -> RunStatus | None:
        """For `status`/`result` events: the run status they carry (unknown → ValueError)."""
        if self.event in {"status", "result"} and isinstance(self.data, dict):
            raw = self.data.get("status")
            if raw is not None:
                return parse_run_status(raw)
        return None
