"""Pydantic models: release plan, status file, status events. No I/O."""
