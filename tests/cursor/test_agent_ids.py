"""Agent ids are deterministic per (release, FU, attempt) and match the spec's agentId pattern."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.adapters.cursor.models import CreateAgentRequest, Prompt
from orchestrator.core.agent_ids import AGENT_ID_RE, agent_id_for


def test_same_inputs_give_the_same_id_across_restarts() -> None:
    assert agent_id_for("v0.2.0", "FU-101", 1) == agent_id_for("v0.2.0", "FU-101", 1)
    # Pinned: changing the namespace would orphan agents launched by earlier versions.
    assert agent_id_for("v0.2.0", "FU-101", 1) == "bc-b0f7d40c-c39a-561c-b16b-611eeb06817a"


def test_each_attempt_fu_and_release_gets_its_own_id() -> None:
    ids = {
        agent_id_for("v0.2.0", "FU-101", 1),
        agent_id_for("v0.2.0", "FU-101", 2),
        agent_id_for("v0.2.0", "FU-102", 1),
        agent_id_for("v0.3.0", "FU-101", 1),
    }
    assert len(ids) == 4


@pytest.mark.parametrize(
    ("release", "fu", "attempt"), [("", "FU-1", 1), ("r", "", 1), ("r", "FU", 0)]
)
def test_bad_inputs_are_refused(release: str, fu: str, attempt: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        agent_id_for(release, fu, attempt)


@settings(max_examples=200, deadline=None)
@given(
    release=st.text(min_size=1, max_size=40),
    fu=st.text(min_size=1, max_size=20),
    attempt=st.integers(min_value=1, max_value=1000),
)
def test_ids_always_fit_the_spec_pattern(release: str, fu: str, attempt: int) -> None:
    agent_id = agent_id_for(release, fu, attempt)
    assert AGENT_ID_RE.match(agent_id)
    CreateAgentRequest(prompt=Prompt(text="x"), agent_id=agent_id)  # model accepts it too
