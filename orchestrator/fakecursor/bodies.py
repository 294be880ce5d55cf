"""Request bodies of the v1 API, checked as strictly as the OpenAPI schema says.

An honest double: a field the schema requires is rejected when absent, with a 400
`validation_error` whose message names the field path (`prompt.text`, `repos[0].url`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    ValidationError,
    model_validator,
)

from orchestrator.fakecursor.api_error import ApiError, validation_error

_Body = TypeVar("_Body", bound=BaseModel)
NonEmpty = Annotated[str, StringConstraints(min_length=1)]
AGENT_ID_PATTERN = (
    r"^bc-[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


class _Open(BaseModel):
    """Objects without `additionalProperties: false` in the spec accept unknown keys."""

    model_config = ConfigDict(strict=True, extra="allow")


class _Closed(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class ImageDimension(_Open):
    width: int = Field(ge=1)
    height: int = Field(ge=1)


class Image(_Open):
    data: NonEmpty | None = None
    url: NonEmpty | None = None
    mimeType: NonEmpty | None = None
    dimension: ImageDimension | None = None

    @model_validator(mode="after")
    def _data_xor_url(self) -> Image:
        if (self.data is None) == (self.url is None):
            raise ValueError("provide exactly one of data or url")
        if self.data is not None and self.mimeType is None:
            raise ValueError("mimeType is required with data")
        if self.url is not None and self.mimeType is not None:
            raise ValueError("mimeType must be omitted with url")
        return self


class Prompt(_Open):
    text: NonEmpty
    images: list[Image] | None = Field(default=None, max_length=5)


class ModelParam(_Open):
    id: NonEmpty
    value: NonEmpty


class ModelRef(_Open):
    id: NonEmpty
    params: list[ModelParam] | None = None


class AgentEnv(_Open):
    type: Literal["cloud", "pool", "machine"]
    name: NonEmpty | None = None


class RepoConfig(_Open):
    url: NonEmpty
    startingRef: NonEmpty | None = None
    prUrl: NonEmpty | None = None


class McpAuth(_Closed):
    CLIENT_ID: NonEmpty
    CLIENT_SECRET: str | None = None
    scopes: list[NonEmpty] | None = None


class StdioMcpServer(_Closed):
    name: NonEmpty
    type: Literal["stdio"] | None = None
    command: NonEmpty
    args: list[str] | None = None
    env: dict[str, str] | None = None


class RemoteMcpServer(_Closed):
    name: NonEmpty
    type: Literal["http", "sse"] | None = None
    url: NonEmpty
    headers: dict[str, str] | None = None
    auth: McpAuth | None = None


def _mcp_kind(value: Any) -> str:
    return "stdio" if isinstance(value, dict) and "command" in value else "remote"


McpServer = Annotated[
    Annotated[StdioMcpServer, Tag("stdio")] | Annotated[RemoteMcpServer, Tag("remote")],
    Discriminator(_mcp_kind),
]


class CustomSubagent(_Closed):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    description: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    prompt: Annotated[str, StringConstraints(min_length=1, max_length=8192)]
    model: NonEmpty | ModelRef | None = None


class CreateAgentBody(_Open):
    prompt: Prompt
    model: ModelRef | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    agentId: Annotated[str, StringConstraints(pattern=AGENT_ID_PATTERN)] | None = None
    env: AgentEnv | None = None
    repos: list[RepoConfig] | None = Field(default=None, max_length=20)
    workOnCurrentBranch: bool = False
    autoCreatePR: bool = False
    skipReviewerRequest: bool = False
    envVars: dict[str, Annotated[str, StringConstraints(min_length=1, max_length=4096)]] | None = (
        None
    )
    mcpServers: list[McpServer] | None = Field(default=None, max_length=50)
    customSubagents: list[CustomSubagent] | None = Field(default=None, max_length=20)
    mode: Literal["agent", "plan"] = "agent"


class CreateRunBody(_Open):
    prompt: Prompt
    mcpServers: list[McpServer] | None = Field(default=None, max_length=50)
    mode: Literal["agent", "plan"] | None = None


_TAGS = {
    "stdio",
    "remote",
    "str",
    "constrained-str",
    "ModelRef",
    "function-after[_data_xor_url(), Image]",
}


def _field_path(loc: tuple[Any, ...]) -> str:
    """`('repos', 0, 'url')` → `repos[0].url`, dropping pydantic's union tags."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part not in _TAGS:
            text += f".{part}" if text else str(part)
    return text or "body"


def _parse(model: type[_Body], raw: bytes) -> _Body:
    if not raw.strip():
        raise ApiError(400, "missing_body", "Request body is required.")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            raise ApiError(400, "validation_error", "body: malformed JSON") from exc
        raise validation_error(_field_path(tuple(first["loc"])), first["msg"]) from exc


def parse_create_agent(raw: bytes) -> CreateAgentBody:
    body = _parse(CreateAgentBody, raw)
    if body.agentId is not None and body.envVars is not None:
        raise validation_error("envVars", "cannot be combined with a client-supplied agentId")
    if body.envVars is not None:
        if len(body.envVars) > 50:
            raise validation_error("envVars", "at most 50 variables")
        for name in body.envVars:
            if not name or len(name.encode()) > 255 or name.startswith("CURSOR_"):
                raise validation_error(
                    f"envVars.{name}", "names must be 1-255 bytes and not start with CURSOR_"
                )
    if body.env is not None and body.env.name is not None and body.repos:
        raise validation_error("repos", "cannot be combined with a named cloud environment")
    return body


def parse_create_run(raw: bytes) -> CreateRunBody:
    return _parse(CreateRunBody, raw)
