"""The decision channel from `orchd decide` (another process) to the daemon: a control file.

No network port: the decision is a small JSON file (`decision.json`) in the release's folder
under orchd's state dir (`state_dir.release_runtime_dir`, passed here as `control_dir`), not in
the user's checkout; whoever may write that folder may decide. The CLI creates it atomically and
exclusively (temp file, fsync, hard link), so the daemon never reads half a file and two
deciders never overwrite each other; the daemon claims it by renaming it to
`decision.taken.json`, which is also how the CLI learns it was delivered.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import time
import uuid
from collections.abc import Collection
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal

import anyio
import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator.adapters.durable_file import durable_temp, fsync_dir
from orchestrator.clock import utcnow
from orchestrator.errors import InputError
from orchestrator.models.batch_id import BatchId, format_batch_id

log = structlog.get_logger(__name__)

Action = Literal["retry", "fix", "skip", "abort", "continue"]
ACTIONS: tuple[Action, ...] = ("retry", "fix", "skip", "abort", "continue")


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


class Decision(BaseModel):
    """What a human decided about a failed batch or a checkpoint."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: Action
    batch_id: BatchId | None = None
    all_fus: bool = False
    reason: str = ""
    at: datetime = Field(default_factory=utcnow)
    by: str = Field(default_factory=_who)
    id: str = Field(default_factory=lambda: str(uuid.uuid4()))

    def describe(self) -> str:
        """`retry batch 0.5 (all FUs)`: what the CLI prints and the daemon logs."""
        text: str = self.action
        if self.batch_id is not None:
            text += f" batch {format_batch_id(self.batch_id)}"
        if self.all_fus:
            text += " (all FUs)"
        return text


def decision_path(control_dir: Path) -> Path:
    """The pending decision: `decision.json` in the release's folder of the state dir."""
    return control_dir / "decision.json"


def taken_path(control_dir: Path) -> Path:
    """Where the daemon moves the decision it took (the last one stays for the record)."""
    return control_dir / "decision.taken.json"


def _pending_error(path: Path) -> InputError:
    try:
        pending = Decision.model_validate_json(path.read_bytes())
        what = f"{pending.describe()} by {pending.by} at {pending.at.isoformat()}"
    except (OSError, ValueError):
        what = "unreadable"
    return InputError(
        f"{path}: a decision is still pending ({what}); wait until orchd takes it "
        f"(orchd status), or delete the file to replace it"
    )


def submit_decision(control_dir: Path, decision: Decision) -> Path:
    """Write the decision file atomically; refuse while an earlier one is not yet taken."""
    path = decision_path(control_dir)
    try:
        control_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"{control_dir}: cannot write the decision there ({exc.strerror or exc}); "
            "is --state-dir the one the running orchd uses?"
        ) from None
    data = (decision.model_dump_json(indent=2) + "\n").encode()
    with durable_temp(path, data) as tmp_name:
        try:
            os.link(tmp_name, path)  # atomic and exclusive: fails if one is pending
        except FileExistsError:
            raise _pending_error(path) from None
        except OSError:  # filesystem without hard links: check, then replace
            if path.exists():
                raise _pending_error(path) from None
            os.replace(tmp_name, path)
        fsync_dir(path.parent)
    return path


def _take(control_dir: Path) -> bytes | None:
    """Claim the pending decision by renaming it (atomic: only one taker); None if none."""
    taken = taken_path(control_dir)
    try:
        os.replace(decision_path(control_dir), taken)
    except FileNotFoundError:
        return None
    return taken.read_bytes()


def _rejection(
    decision: Decision, choices: Collection[str] | None, batch_id: Decimal | None
) -> str | None:
    if choices is not None and decision.action not in choices:
        return f"action {decision.action!r} is not one of {sorted(choices)}"
    if batch_id is not None and decision.batch_id is not None and decision.batch_id != batch_id:
        return (
            f"decision is for batch {format_batch_id(decision.batch_id)}, "
            f"waiting on batch {format_batch_id(batch_id)}"
        )
    return None


async def next_decision(
    control_dir: Path,
    *,
    poll_s: float = 0.5,
    choices: Collection[str] | None = None,
    batch_id: Decimal | None = None,
) -> Decision:
    """Wait for the next valid decision, consume it and return it.

    A malformed file, or one whose action is not in `choices` or whose batch differs from
    `batch_id` (when both are given), is consumed, logged as `decision.rejected` and ignored.
    Cancel the caller (deadline, shutdown) to stop waiting.
    """
    path = decision_path(control_dir)
    while True:
        raw = _take(control_dir)
        if raw is not None:
            try:
                decision = Decision.model_validate_json(raw)
            except ValidationError as exc:
                problem = exc.errors()[0]
                where = ".".join(str(p) for p in problem["loc"]) or "file"
                log.warning(
                    "decision.rejected", path=str(path), field=where, problem=problem["msg"]
                )
            else:
                reason = _rejection(decision, choices, batch_id)
                if reason is None:
                    log.info(
                        "decision.taken",
                        decision_id=decision.id,
                        action=decision.action,
                        batch_id=None if decision.batch_id is None else str(decision.batch_id),
                        all_fus=decision.all_fus,
                        by=decision.by,
                        reason=decision.reason,
                    )
                    return decision
                log.warning(
                    "decision.rejected", path=str(path), decision_id=decision.id, problem=reason
                )
                _record_rejection(control_dir, decision.id, reason)
        await anyio.sleep(poll_s)


def rejected_path(control_dir: Path) -> Path:
    return control_dir / "decision.rejected.json"


def _record_rejection(control_dir: Path, decision_id: str, reason: str) -> None:
    """Tell the `orchd decide` that sent it why its decision was not used."""
    data = (json.dumps({"id": decision_id, "problem": reason}) + "\n").encode()
    path = rejected_path(control_dir)
    with durable_temp(path, data) as tmp_name:
        os.replace(tmp_name, path)


def rejection_of(control_dir: Path, decision_id: str) -> str | None:
    """Why the daemon rejected decision `decision_id`, or None if it did not."""
    try:
        record = json.loads(rejected_path(control_dir).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(record, dict) and record.get("id") == decision_id:
        return str(record.get("problem", "rejected"))
    return None


def pending_decision_id(control_dir: Path) -> str | None:
    """Id of the decision waiting in the file, '' if it is unreadable, None if none waits."""
    try:
        raw = decision_path(control_dir).read_bytes()
    except FileNotFoundError:
        return None
    try:
        return str(json.loads(raw).get("id", ""))
    except (ValueError, AttributeError):
        return ""


def wait_consumed(
    control_dir: Path,
    timeout_s: float,
    *,
    decision_id: str | None = None,
    poll_s: float = 0.05,
) -> bool:
    """Block (CLI side) until the daemon took the decision; False if still pending at timeout.

    With `decision_id`, a newer decision from someone else in the file does not count as ours.
    """
    deadline = time.monotonic() + max(timeout_s, 0.0)
    while True:
        pending = pending_decision_id(control_dir)
        if pending is None or (decision_id is not None and pending != decision_id):
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(poll_s, remaining))
