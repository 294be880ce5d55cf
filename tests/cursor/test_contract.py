"""Contract: every request body the client sends validates against the published OpenAPI schema,
and the sample responses these tests feed the client validate against the response schemas."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from ruamel.yaml import YAML

from orchestrator.adapters.cursor.models import (
    CreateAgentRequest,
    CreateRunRequest,
    ModelParam,
    ModelRef,
    Prompt,
    RepoConfig,
)
from orchestrator.core.agent_ids import agent_id_for
from tests.cursor.conftest import (
    AGENT_ID,
    POLICY,
    FakeClock,
    agent_json,
    make_client,
    run_json,
)

SPEC_PATH = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "cursor" / "cloud-agents-openapi-v1.yml"
)
SPEC_URI = "urn:cursor:cloud-agents-openapi-v1"

pytestmark = pytest.mark.skipif(
    not SPEC_PATH.exists(), reason=f"OpenAPI contract not found at {SPEC_PATH}"
)


@cache
def _registry() -> Registry[Any]:
    spec = YAML(typ="safe").load(SPEC_PATH.read_text(encoding="utf-8"))
    resource = Resource.from_contents(spec, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
    return registry


def _validator(schema_name: str) -> Draft202012Validator:
    return Draft202012Validator(
        {"$ref": f"{SPEC_URI}#/components/schemas/{schema_name}"}, registry=_registry()
    )


def _errors(schema_name: str, body: Any) -> list[str]:
    return [e.message for e in _validator(schema_name).iter_errors(body)]


def test_the_validator_bites_on_a_body_the_spec_rejects() -> None:
    assert _errors("CreateAgentRequest", {"name": "no prompt"})
    assert _errors("CreateAgentRequest", {"prompt": {"text": "x"}, "agentId": "bc-1"})


FULL_CREATE = CreateAgentRequest(
    prompt=Prompt(text="Implement FU-101 per docs/feature_units/FU-101.md"),
    model=ModelRef(id="composer-2", params=[ModelParam(id="thinking", value="high")]),
    name="neotoma v0.2.0 FU-101 #1",
    agent_id=agent_id_for("v0.2.0", "FU-101", 1),
    repos=[RepoConfig(url="https://github.com/org/neotoma", starting_ref="release/v0.2.0")],
    work_on_current_branch=False,
    auto_create_pr=True,
    skip_reviewer_request=True,
    mode="agent",
)


@pytest.mark.asyncio
async def test_bodies_sent_by_every_posting_method_validate(
    router: respx.MockRouter, clock: FakeClock
) -> None:
    client = make_client(router, clock, policy=POLICY)
    created = {"agent": agent_json(), "run": run_json("CREATING")}
    create = router.post("/v1/agents").respond(201, json=created)
    follow = router.post(f"/v1/agents/{AGENT_ID}/runs").respond(
        201, json={"run": run_json("CREATING", run_id="run-2")}
    )
    await client.create_agent(FULL_CREATE)
    await client.create_agent(CreateAgentRequest(prompt=Prompt(text="minimal")))
    await client.create_run(AGENT_ID, CreateRunRequest(prompt=Prompt(text="fix the tests")))
    await client.create_run(
        AGENT_ID, CreateRunRequest(prompt=Prompt(text="plan first"), mode="plan")
    )
    for call in create.calls:
        assert _errors("CreateAgentRequest", json.loads(call.request.content)) == []
    for call in follow.calls:
        assert _errors("CreateRunRequest", json.loads(call.request.content)) == []
    assert create.call_count == 2
    assert follow.call_count == 2


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.text(min_size=1, max_size=200),
    name=st.none() | st.text(min_size=1, max_size=100),
    fu=st.from_regex(r"FU-[0-9]{3}", fullmatch=True),
    attempt=st.integers(min_value=1, max_value=9),
    auto_pr=st.none() | st.booleans(),
    ref=st.none() | st.text(min_size=1, max_size=40),
)
def test_any_create_body_orchd_can_build_validates(
    text: str, name: str | None, fu: str, attempt: int, auto_pr: bool | None, ref: str | None
) -> None:
    req = CreateAgentRequest(
        prompt=Prompt(text=text),
        name=name,
        agent_id=agent_id_for("v1", fu, attempt),
        repos=[RepoConfig(url="https://github.com/org/repo", starting_ref=ref)],
        auto_create_pr=auto_pr,
    )
    assert _errors("CreateAgentRequest", req.to_body()) == []


@pytest.mark.parametrize(
    ("schema_name", "body"),
    [
        ("Agent", agent_json()),
        ("Run", run_json("RUNNING")),
        (
            "Run",
            run_json(
                "FINISHED",
                durationMs=5,
                result="done",
                git={"branches": [{"repoUrl": "github.com/o/r", "branch": "cursor/x"}]},
            ),
        ),
        ("CreateAgentResponse", {"agent": agent_json(), "run": run_json("CREATING")}),
        ("ListAgentsResponse", {"items": [agent_json()], "nextCursor": "c"}),
    ],
)
def test_sample_responses_used_in_tests_are_spec_shaped(schema_name: str, body: Any) -> None:
    assert _errors(schema_name, body) == []
