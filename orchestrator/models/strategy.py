"""How a release's FUs are run: an enum of its own, so a command's `--strategy` option can
name it without importing the pydantic models (`orchd --help` stays quick)."""

from __future__ import annotations

from enum import StrEnum


class StrategyType(StrEnum):
    MULTI_AGENT = "multi_agent"
    SEQUENTIAL = "sequential"
