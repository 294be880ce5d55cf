"""Client for the Cursor Cloud Agents v1 API (see ../shared/cursor/cloud-agents-openapi-v1.yml)."""
