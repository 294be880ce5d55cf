"""One problem found in a release plan, as the loader prints it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from orchestrator.models.release import Source

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One problem, rendered by the loader as `file:line:col: field: problem (fix)`."""

    severity: Severity
    code: str
    field: str
    problem: str
    fix: str = ""
    source: Source | None = None

    def render(self) -> str:
        where = f"{self.source.render()}: " if self.source else ""
        text = f"{where}{self.field}: {self.problem}"
        return f"{text} ({self.fix})" if self.fix else text
