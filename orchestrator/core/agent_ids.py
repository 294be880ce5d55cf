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


def agent_id_for(
    release_id: str, fu_id: str, attempt: int, *, repo_url: str = "", nonce: str = ""
) -> str:
    """`bc-<uuid5(ORCHD_NAMESPACE, "release/fu/attempt[/repo/nonce]")>`; `attempt` is 1-based.

    The repo URL and the release run's nonce (kept in the status file: new with a new file,
    the same on a restart) keep another repo's or another checkout's agents from matching.
    Without them (a status file from before the nonce) the id is the old one, so a restart
    after an upgrade still recognises its agents.
    """
    if not release_id or not fu_id:
        raise ValueError("release_id and fu_id must be non-empty")
    if attempt < 1:
        raise ValueError(f"attempt must be >= 1, got {attempt}")
    key = f"{release_id}/{fu_id}/{attempt}"
    if repo_url or nonce:
        key += f"/{repo_url}/{nonce}"
    return f"bc-{uuid.uuid5(ORCHD_NAMESPACE, key)}"
