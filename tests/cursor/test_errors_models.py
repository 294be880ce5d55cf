"""Error bodies in both shapes map to the right class; models serialise and validate per spec."""

from __future__ import annotations

import pytest
from pydantic import ValidationError as PydanticValidationError

from orchestrator.adapters.cursor import errors as E
from orchestrator.adapters.cursor.models import (
    CreateAgentRequest,
    CreateRunRequest,
    ModelRef,
    Prompt,
    Run,
    RunStatus,
)
from tests.cursor.conftest import AGENT_ID, run_json


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b'{"error": {"code": "agent_busy", "message": "busy"}}', "agent_busy", "busy"),
        (b'{"error": "agent_busy", "message": "busy (flat)"}', "agent_busy", "busy (flat)"),
        (b'{"error": {"code": "x"}}', "x", None),
        (b"not json", None, None),
        (b"[1, 2]", None, None),
        (b"", None, None),
    ],
)
def test_both_error_body_shapes_are_understood(
    body: bytes, code: str | None, message: str | None
) -> None:
    assert E.parse_error_body(body)[:2] == (code, message)


@pytest.mark.parametrize(
    ("status", "code", "cls", "retryable"),
    [
        (401, "api_key_not_found", E.Unauthorized, False),
        (403, "feature_unavailable", E.FeatureUnavailable, False),
        (403, "something_new", E.Forbidden, False),
        (409, "agent_id_conflict", E.AgentIdConflict, False),
        (409, "run_not_cancellable", E.RunNotCancellable, False),
        (410, "stream_expired", E.StreamExpired, False),
        (429, "rate_limit_exceeded", E.RateLimited, True),
        (500, "internal_error", E.ServerError, True),
        (502, "upstream_error", E.ServerError, True),
        (503, "stream_unavailable", E.ServerError, True),
        (504, None, E.ServerError, True),
        (418, None, E.CursorError, False),
    ],
)
def test_error_class_follows_code_then_status(
    status: int, code: str | None, cls: type[E.CursorError], retryable: bool
) -> None:
    body = f'{{"error": {{"code": "{code}", "message": "m"}}}}' if code else "{}"
    err = E.error_from_response(status, body, method="GET", path="/v1/me")
    assert type(err) is cls
    assert err.retryable is retryable
    assert err.status == status


def test_error_without_body_still_says_what_happened() -> None:
    err = E.error_from_response(502, b"", method="POST", path="/v1/agents")
    assert str(err) == "POST /v1/agents: Cursor 502 internal_error: HTTP 502 with no error body"


def test_unauthorized_fails_the_start_as_bad_input() -> None:
    assert E.Unauthorized("bad key").exit_code == 2


def test_request_models_omit_unset_fields_and_use_spec_names() -> None:
    req = CreateAgentRequest(
        prompt=Prompt(text="do it"),
        model=ModelRef(id="composer-2"),
        agent_id=AGENT_ID,
        work_on_current_branch=False,
        skip_reviewer_request=True,
        mode="plan",
    )
    assert req.to_body() == {
        "prompt": {"text": "do it"},
        "model": {"id": "composer-2"},
        "agentId": AGENT_ID,
        "workOnCurrentBranch": False,
        "skipReviewerRequest": True,
        "mode": "plan",
    }
    assert CreateRunRequest(prompt=Prompt(text="more")).to_body() == {"prompt": {"text": "more"}}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"prompt": {"text": ""}},
        {"prompt": {"text": "x"}, "agent_id": "bc-not-a-uuid"},
        {"prompt": {"text": "x"}, "name": "n" * 101},
        {"prompt": {"text": "x"}, "env_vars": {"TOKEN": "secret"}},  # orchd never sends secrets
    ],
)
def test_request_models_refuse_what_the_spec_would_reject(kwargs: dict[str, object]) -> None:
    with pytest.raises(PydanticValidationError):
        CreateAgentRequest.model_validate(kwargs)


@pytest.mark.parametrize(
    ("status", "terminal"),
    [
        ("CREATING", False),
        ("RUNNING", False),
        ("FINISHED", True),
        ("ERROR", True),
        ("CANCELLED", True),
        ("EXPIRED", True),
    ],
)
def test_run_status_terminality(status: str, terminal: bool) -> None:
    assert Run.model_validate(run_json(status)).status.is_terminal is terminal
    assert RunStatus(status).is_terminal is terminal


def test_run_keeps_unknown_fields() -> None:
    run = Run.model_validate(run_json("RUNNING", newField=3))
    assert run.model_extra == {"newField": 3}


@pytest.mark.parametrize(
    ("status", "body", "capacity"),
    [
        (403, '{"error": {"code": "agent_limit_exceeded", "message": "x"}}', True),
        (403, '{"error": {"code": "plan_required", "message": "at most 3 active agents"}}', True),
        (429, '{"error": {"code": "rate_limit_exceeded", "message": "Too many agents"}}', True),
        (409, '{"error": "conflict", "message": "Maximum concurrent agents reached"}', True),
        (429, '{"error": {"code": "rate_limit_exceeded", "message": "Slow down"}}', False),
        (403, '{"error": {"code": "plan_required", "message": "Upgrade your plan"}}', False),
        (500, '{"error": {"code": "internal_error", "message": "agent limit"}}', False),
    ],
)
def test_an_answer_speaking_of_an_agent_limit_is_back_pressure(
    status: int, body: str, capacity: bool
) -> None:
    from orchestrator.adapters.cursor.errors import AgentCapacity, error_from_response

    error = error_from_response(status, body)
    assert isinstance(error, AgentCapacity) is capacity
