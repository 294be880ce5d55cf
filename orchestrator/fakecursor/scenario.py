"""Scenario files: what the fake Cursor server does per Feature Unit and to the traffic.

Run timings (`creating_s`, `duration_s`, heartbeats, stream retention) are *simulated* seconds,
divided by `time_scale` to get real ones. Traffic faults (latency, 429/5xx/drop windows,
`retry_after_s`) are *server clock* seconds since start, never scaled: they model the network.
"""

from __future__ import annotations

import json
import math
import random
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from orchestrator.errors import LocatedError, ValidationFailed

FinalStatus = Literal["FINISHED", "ERROR", "EXPIRED"]
GitEdit = Literal["add_file", "conflict", "break_tests", "none"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CreateError(_Strict):
    """Reject `POST /v1/agents` for this FU, e.g. `{status: 403, code: repository_access}`."""

    status: int = Field(ge=400, le=599)
    code: str
    message: str = "Scripted create failure."
    times: PositiveInt | None = None  # None: every create; N: only the first N


class FuBehaviour(_Strict):
    """How a launched run behaves; per-FU entries override only the fields they set."""

    creating_s: float = Field(default=5.0, ge=0)
    duration_s: float = Field(default=60.0, ge=0)
    final_status: FinalStatus = "FINISHED"
    hang: bool = False
    # With `hang`: the stream still sends heartbeats for this many simulated seconds, nothing
    # else (a stuck agent behind a healthy connection); 0: a hang's stream is silent.
    hang_heartbeats_s: float = Field(default=0.0, ge=0)
    fail_first_attempts: int = Field(default=0, ge=0)
    tool_calls: int = Field(default=3, ge=0)
    # A working agent also thinks aloud (a `thinking` event) this often, in simulated seconds,
    # as a real one narrates its work; None: its tool calls are its only activity.
    thinking_every_s: float | None = Field(default=300.0, gt=0)
    result_text: str | None = None
    error_message: str = "The agent hit an unrecoverable error."
    create_error: CreateError | None = None
    stream_expired: bool = False
    # Real git, only for agents on a local path or file:// repo (see agent_git.py):
    git_edit: GitEdit = "add_file"  # the first push's change; none: never push a branch
    resolve_conflicts: Literal["union", "give_up"] = "union"  # a follow-up's merge conflict
    fix_on_follow_up: bool = True  # a follow-up undoes this agent's break_tests change
    push_nothing_first_runs: int = Field(default=0, ge=0)  # the FU's first N runs push nothing


class TimeWindow(_Strict):
    start_s: float = Field(ge=0)
    end_s: float = Field(gt=0)


class FaultRule(_Strict):
    """Which API requests a fault hits: by request number, clock window or seeded rate."""

    every_n_requests: PositiveInt | None = None
    request_ranges: list[tuple[PositiveInt, PositiveInt]] = Field(default_factory=list)
    windows: list[TimeWindow] = Field(default_factory=list)
    rate: float = Field(default=0.0, ge=0, le=1)
    paths: list[str] = Field(default_factory=list)  # path prefixes; empty: every API path
    methods: list[str] = Field(default_factory=list)  # upper-case; empty: every method

    def hits(self, request_no: int, t_s: float, method: str, path: str, rng: random.Random) -> bool:
        """Decide for one request; draws from `rng` only when a rate is set (determinism)."""
        if self.paths and not any(path.startswith(p) for p in self.paths):
            return False
        if self.methods and method.upper() not in self.methods:
            return False
        drawn = self.rate > 0 and rng.random() < self.rate
        return (
            drawn
            or (self.every_n_requests is not None and request_no % self.every_n_requests == 0)
            or any(lo <= request_no <= hi for lo, hi in self.request_ranges)
            or any(w.start_s <= t_s < w.end_s for w in self.windows)
        )


class RateLimitRule(FaultRule):
    retry_after_s: float = Field(default=1.0, ge=0)
    limit: PositiveInt = 60
    code: Literal["rate_limit_exceeded", "usage_limit_exceeded"] = "rate_limit_exceeded"

    @property
    def retry_after_header(self) -> str:
        return str(math.ceil(self.retry_after_s))


class ServerErrorRule(FaultRule):
    status: Literal[500, 502, 503] = 500

    @property
    def code(self) -> str:
        return {500: "internal_error", 502: "upstream_error", 503: "stream_unavailable"}[
            self.status
        ]


class DropRule(FaultRule):
    """Close the connection without a complete response; `after_handling` loses a done write."""

    after_handling: bool = False


DEFAULT_CAP_MESSAGE = (
    "You have reached the maximum of {limit} active agents. Archive agents to start new ones."
)


class ActiveAgentCap(_Strict):
    """The account's cap on concurrently active agents, and how a launch beyond it is refused.

    An agent holds a slot from its creation until it is archived or deleted: a finished agent
    still holds it, as on the real service. `POST /v1/agents` and
    `POST /v1/agents/{id}/unarchive` beyond the cap get `{"error": {"code", "message"}}` with
    `status`; follow-up runs on an agent that holds a slot are never refused. The real answer is
    undocumented (v0 used 403), so each plausible one can be scripted: 403
    `agent_limit_exceeded` (the default), 429 with `Retry-After`, or 403 `plan_required`.
    `{limit}` in `message` is replaced by the limit.
    """

    limit: PositiveInt
    status: int = Field(default=403, ge=400, le=599)
    code: str = "agent_limit_exceeded"
    message: str = DEFAULT_CAP_MESSAGE
    retry_after_s: float | None = Field(default=None, ge=0)  # 429 without it: 60

    def headers(self) -> dict[str, str]:
        """`Retry-After` (whole seconds) on a 429, or whenever `retry_after_s` is set."""
        if self.retry_after_s is None and self.status != 429:
            return {}
        wait_s = 60.0 if self.retry_after_s is None else self.retry_after_s
        return {"Retry-After": str(math.ceil(wait_s))}

    def rendered_message(self) -> str:
        return self.message.replace("{limit}", str(self.limit))


class Scenario(_Strict):
    time_scale: PositiveFloat = 1.0
    seed: int = 0
    defaults: FuBehaviour = Field(default_factory=FuBehaviour)
    fus: dict[str, FuBehaviour] = Field(default_factory=dict)
    latency_s: float = Field(default=0.0, ge=0)
    rate_limit: RateLimitRule | None = None
    server_errors: ServerErrorRule | None = None
    drops: DropRule | None = None
    usage_available: bool = True
    heartbeat_interval_s: PositiveFloat = 30.0
    stream_retention_s: float | None = Field(default=3600.0, ge=0)  # None: streams never expire
    models: list[str] = Field(
        default_factory=lambda: ["composer-2", "claude-4.6-sonnet-thinking", "gpt-5.2"]
    )
    api_key_name: str = "orchd fake key"
    active_agent_cap: ActiveAgentCap | None = None  # None: no cap on active agents

    def with_active_agent_cap(self, limit: int) -> Scenario:
        """This scenario with the cap set to `limit` agents; a scripted answer is kept."""
        current = self.active_agent_cap
        answer = current.model_dump(exclude={"limit"}, exclude_unset=True) if current else {}
        cap = ActiveAgentCap.model_validate({**answer, "limit": limit})
        return self.model_copy(update={"active_agent_cap": cap})

    def behaviour_for(self, fu_id: str | None) -> FuBehaviour:
        """Defaults overlaid with the FU's explicitly written fields."""
        entry = self.fus.get(fu_id) if fu_id else None
        if entry is None:
            return self.defaults
        merged = {**self.defaults.model_dump(), **entry.model_dump(exclude_unset=True)}
        return FuBehaviour.model_validate(merged)

    def match_fu(self, *texts: str) -> str | None:
        """The launch's FU: a scenario key, else any FU id, searched in the texts in order."""
        for text in texts:
            keys = sorted(self.fus, key=len, reverse=True)
            for key in keys:
                if re.search(rf"(?<![\w-]){re.escape(key)}(?![\w-])", text):
                    return key
            found = _FU_ID.search(text)
            if found:
                return found.group(0)
        return None


_FU_ID = re.compile(r"(?<![\w-])FU-(?:\d{4}-\d{2}-[a-z0-9]+(?:-[a-z0-9]+)*|\d+)(?![\w-])")


def load_scenario(path: Path) -> Scenario:
    """Read a YAML or JSON scenario; errors name file:line:col and the field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LocatedError(
            str(path), None, None, "scenario", f"cannot read: {exc.strerror}"
        ) from exc
    data: Any
    try:
        data = json.loads(text) if path.suffix == ".json" else YAML(typ="rt").load(text)
    except (json.JSONDecodeError, YAMLError) as exc:
        raise LocatedError(str(path), None, None, "scenario", f"not valid: {exc}") from exc
    try:
        return Scenario.model_validate(data or {})
    except ValidationError as exc:
        raise ValidationFailed([_located(str(path), data, err) for err in exc.errors()]) from exc


def _located(file: str, data: Any, err: Any) -> LocatedError:
    loc: tuple[Any, ...] = tuple(err["loc"])
    line, col = _position(data, loc)
    field = ".".join(str(p) for p in loc) or "scenario"
    return LocatedError(
        file, line, col, field, err["msg"], "see orchestrator/fakecursor/scenario.py"
    )


def _position(data: Any, loc: tuple[Any, ...]) -> tuple[int | None, int | None]:
    """1-based line/col of the deepest YAML node on `loc` (ruamel keeps 0-based positions)."""
    line: int | None = None
    col: int | None = None
    node = data
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line, col = node.lc.key(part)
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line, col = node.lc.item(part)
        else:
            break
        node = node[part]
    if line is None or col is None:
        return None, None
    return line + 1, col + 1
