"""Worker prompt rendering, pure: a `string.Template` filled with the FU's facts.

The template lives in `config/worker_prompt.md` (or the manifest's `prompt_template`); the
prompt never contains secrets and never asks the agent to write the status file.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

PLACEHOLDERS = (
    "release_id",
    "release_name",
    "fu_id",
    "fu_title",
    "batch_id",
    "priority",
    "risk_level",
    "dependencies",
    "spec_path",
    "release_branch",
    "acceptance_notes",
    "attempt",
)


def unknown_placeholders(template: str) -> list[str]:
    """Placeholders in `template` that orchd does not fill (a typo would fail every launch)."""
    names = {
        match.group("named") or match.group("braced")
        for match in string.Template.pattern.finditer(template)
        if match.group("named") or match.group("braced")
    }
    return sorted(name for name in names if name not in PLACEHOLDERS)


def render_prompt(template: str, values: Mapping[str, str]) -> str:
    return string.Template(template).substitute(
        {name: values.get(name, "") for name in PLACEHOLDERS}
    )
