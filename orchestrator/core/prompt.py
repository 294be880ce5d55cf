"""Worker prompt rendering, pure: a `string.Template` filled with the FU's facts.

The template lives in `config/worker_prompt.md` (or the manifest's `prompt_template`); the
prompt never contains secrets and never asks the agent to write the status file.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence

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
    "base_sha",
    "contained_dependencies",
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


def conflict_prompt(
    *, fu_id: str, branch: str, onto_sha: str, onto_ref: str, files: Sequence[str], round_: int
) -> str:
    """A follow-up run: merge the exact candidate commit into the agent's branch and resolve."""
    listed = "\n".join(f"- {name}" for name in files) or "- (git names them when you merge)"
    return (
        f"Your branch {branch} for {fu_id} conflicts with the release branch candidate "
        f"(conflict round {round_}). Merge commit {onto_sha} (fetch it with "
        f"`git fetch origin {onto_ref}`) into {branch} with `git merge {onto_sha}`: do not rebase "
        "and do not force-push. The conflicting files are:\n"
        f"{listed}\n"
        "Resolve every conflict so that both your change and the work already merged keep "
        f"working, run the tests, commit the merge and push {branch}."
    )


def fix_prompt(
    *, fu_id: str, branch: str, batch_id: str, candidate_sha: str, failure: str, log_tail: str
) -> str:
    """A follow-up run after a failed batch gate: the failing tests' log tail, fix, push."""
    return (
        f"The integration tests of batch {batch_id} failed on candidate {candidate_sha}, which "
        f"merges your branch {branch} ({fu_id}) with the rest of the batch: {failure}.\n"
        f"Last lines of the test log:\n```\n{log_tail}\n```\n"
        f"If your change causes the failure, fix it on {branch} (commit on top: do not rebase "
        f"and do not force-push), run the tests, and push {branch}. If it does not, push nothing."
    )
