"""Reading an existing `agent_status.json`, whoever wrote it (the original script, an older
orchd, a person): only a file that is not JSON is an error; the rest is normalised."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.adapters.release_paths import read_text
from orchestrator.core.status_normalise import normalise_status
from orchestrator.errors import InputError, LocatedError
from orchestrator.models.status import StatusFile


def load_status_file(path: Path) -> tuple[StatusFile, list[str]]:
    """Read an existing agent_status.json whoever wrote it; only non-JSON is an error."""
    text = read_text(path)
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LocatedError(
            str(path),
            exc.lineno,
            exc.colno,
            path.name,
            f"not valid JSON: {exc.msg}",
            "fix or remove the file",
        ) from exc
    except RecursionError as exc:
        raise InputError(f"{path}: JSON nested too deeply") from exc
    return normalise_status(raw)
