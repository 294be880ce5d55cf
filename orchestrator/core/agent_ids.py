"""Deterministic Cursor agent ids, so a restarted orchd recognises agents it already launched.

The id for (release, FU, attempt) never changes: re-POSTing it yields `409 agent_id_conflict`
instead of a second agent, which the client turns into "adopt the existing one".
"""

from __future__ import annotations

import re
import uuid

# Fixed forever: changing it would orphan every agent launched by earlier orchd versions.
ORCHD_NAMESPACE = uuid.UUID("6f1c6f43-5d0b-4b8e-9a57-0c2d1f7e0a11")

# The spec's CreateAgentRequest.agentId pattern.
AGENT_ID_RE = re.compile(
    r"^bc-[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


def agent_id_for(release_id: str, fu_id: str, attempt: int) -> str:
    """`bc-<uuid5(ORCHD_NAMESPACE, "release/fu/attempt")>`; `attempt` is 1-based."""
    if not release_id or not fu_id:
        raise ValueError("release_id and fu_id must be non-empty")
    if attempt < 1:
        raise ValueError(f"attempt must be >= 1, got {attempt}")
    return f"bc-{uuid.uuid5(ORCHD_NAMESPACE, f'{release_id}/{fu_id}/{attempt}')}"
