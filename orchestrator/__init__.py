"""orchd: a release orchestrator driving one Cursor Cloud Agent per Feature Unit."""

__version__ = "0.1.0"
