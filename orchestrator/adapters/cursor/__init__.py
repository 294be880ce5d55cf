"""Client for the Cursor Cloud Agents v1 API (contract: shared/cursor/cloud-agents-openapi-v1.yml).

Import from here: `CursorClient`, the settings helpers and the models; errors live in `.errors`.
"""

from orchestrator.adapters.cursor.client import CursorClient
from orchestrator.adapters.cursor.settings import (
    CursorSettings,
    build_http_client,
    client_settings_from_env,
    normalize_base_url,
)

__all__ = [
    "CursorClient",
    "CursorSettings",
    "build_http_client",
    "client_settings_from_env",
    "normalize_base_url",
]
