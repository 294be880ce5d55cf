"""Every response the fake sends validates against the published OpenAPI response schema."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import anyio
import httpx
import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from ruamel.yaml import YAML

from orchestrator.fakecursor.scenario import Scenario
from tests.fakecursor.conftest import agent_body, client_for, loop_fake, sse_events

SPEC = Path(__file__).resolve().parents[3] / "shared" / "cursor" / "cloud-agents-openapi-v1.yml"
pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.looptime,
    pytest.mark.skipif(not SPEC.exists(), reason=f"OpenAPI contract not found at {SPEC}"),
]
SPEC_URI = "urn:cursor-openapi"


def _load_spec() -> dict[str, Any]:
    spec: dict[str, Any] = YAML(typ="safe").load(SPEC.read_text())
    return spec


def _response_schema(spec: dict[str, Any], method: str, path: str, status: int) -> Any:
    for template, operations in spec["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            responses = operations[method.lower()]["responses"]
            assert str(status) in responses, f"{method} {path}: {status} is not in the spec"
            entry = responses[str(status)]
            if "$ref" in entry:
                entry = spec["components"]["responses"][entry["$ref"].rsplit("/", 1)[-1]]
            return entry["content"]
    raise AssertionError(f"{method} {path} is not a path in the spec")


async def _exercise(client: httpx.AsyncClient) -> None:
    """A session touching every implemented path and most error statuses."""
    agent_id = "bc-00000000-0000-4000-8000-0000000000aa"
    created = (
        await client.post("/v1/agents", json=agent_body(agentId=agent_id, autoCreatePR=True))
    ).json()
    run_id = created["run"]["id"]
    base = f"/v1/agents/{agent_id}"
    await client.post("/v1/agents", json=agent_body(agentId=agent_id))  # 409
    await client.post("/v1/agents", json={"prompt": {}})  # 400
    await client.post(base + "/runs", json={"prompt": {"text": "more"}})  # 409 busy
    await client.get(f"{base}/runs/{run_id}")  # CREATING
    await anyio.sleep(20)
    await client.get(f"{base}/runs/{run_id}")  # RUNNING with a branch
    await client.get(f"{base}/runs/{run_id}/stream")  # SSE (waits for the end)
    await client.get(f"{base}/runs/{run_id}")  # FINISHED with PR
    await client.post(f"{base}/runs/{run_id}/cancel")  # 409 not cancellable
    follow = (await client.post(base + "/runs", json={"prompt": {"text": "again"}})).json()
    await client.post(f"{base}/runs/{follow['run']['id']}/cancel")
    for path in (
        base,
        base + "/runs",
        base + "/usage",
        "/v1/agents",
        "/v1/me",
        "/v1/models",
        "/v1/repositories",
        base + "/artifacts",
        "/v1/agents/bc-missing",
        f"{base}/runs/run-missing",
        f"{base}/usage?runId=run-missing",
        f"{base}/artifacts/download?path=artifacts/x.png",
        "/v1/agents?limit=0",
    ):
        await client.get(path)
    await client.get(f"{base}/runs/{run_id}/stream", headers={"Last-Event-ID": "1-99"})
    await client.post(base + "/archive")
    await client.post(base + "/runs", json={"prompt": {"text": "archived"}})  # 409
    await client.post(base + "/unarchive")
    await anyio.sleep(7200)
    await client.get(f"{base}/runs/{run_id}/stream")  # 410 after retention
    await client.delete(base)
    await client.get("/v1/me", headers={"Authorization": "Bearer nope"})  # 401


async def test_every_fake_response_validates_against_its_openapi_schema() -> None:
    spec = _load_spec()
    registry: Registry[Any] = Registry().with_resource(
        SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT7)
    )
    seen: list[httpx.Response] = []

    async def keep(response: httpx.Response) -> None:
        await response.aread()
        seen.append(response)

    scenario = Scenario.model_validate(
        {"stream_retention_s": 600, "defaults": {"creating_s": 10, "duration_s": 60}}
    )
    async with client_for(loop_fake(scenario)) as client:
        client.event_hooks["response"] = [keep]
        await _exercise(client)
        await client.get("/v1/agents", auth=None)

    statuses = {r.status_code for r in seen}
    assert statuses >= {200, 201, 400, 401, 404, 409, 410}
    for response in seen:
        content = _response_schema(
            spec, response.request.method, response.request.url.path, response.status_code
        )
        if "text/event-stream" in content:
            _check_sse(response.text, registry)
            continue
        ref = content["application/json"]["schema"]["$ref"]
        schema = {"$ref": SPEC_URI + ref}
        validator = jsonschema.Draft7Validator(schema, registry=registry)
        errors = [e.message for e in validator.iter_errors(response.json())]
        assert not errors, f"{response.request.method} {response.request.url}: {errors}"


def _check_sse(text: str, registry: Registry[Any]) -> None:
    """Tool-call data follows RunStreamToolCallData; `result` carries runId and status."""
    tool = jsonschema.Draft7Validator(
        {"$ref": SPEC_URI + "#/components/schemas/RunStreamToolCallData"}, registry=registry
    )
    for event in sse_events(text):
        if event["event"] == "tool_call":
            assert not [e.message for e in tool.iter_errors(event["data"])]
        if event["event"] in {"status", "result"}:
            assert {"runId", "status"} <= set(event["data"])
