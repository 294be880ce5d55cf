"""Loading the worker prompt template: `config/worker_prompt.md`, or the packaged default."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from orchestrator.core.prompt import PLACEHOLDERS, unknown_placeholders
from orchestrator.errors import LocatedError


def default_template() -> str:
    return resources.files("orchestrator").joinpath("data/worker_prompt.md").read_text("utf-8")


def load_prompt_template(path: Path | None) -> str:
    """Read and check a template; an unknown `$placeholder` is an error naming its line."""
    if path is None:
        return default_template()
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise LocatedError(
            str(path),
            None,
            None,
            "prompt_template",
            f"cannot read: {exc.strerror}",
            "point prompt_template at a readable file",
        ) from None
    for name in unknown_placeholders(text):
        line = next(
            (
                n
                for n, row in enumerate(text.splitlines(), 1)
                if f"${name}" in row or f"${{{name}}}" in row
            ),
            None,
        )
        raise LocatedError(
            str(path),
            line,
            None,
            "prompt_template",
            f"unknown placeholder ${name}",
            f"use one of: {', '.join('$' + p for p in PLACEHOLDERS)}; write $$ for a literal $",
        )
    return text
