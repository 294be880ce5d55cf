"""What changed between two status snapshots, as sentences a person reads (pure: no I/O).

The status writer hands each snapshot it wrote to the progress view; `narrate` compares it with
the one before and says what a person acts on: a gate started, passed or failed, a batch landed,
orchd waits for a decision (with the exact `orchd decide` command), a decision was taken and by
whom, a checkpoint or a deadline was reached, the release ended. FU state changes are progress
sentences (`key=False`): printed where no live table shows them.

The first snapshot of a run only opens the log ("started" or "resumed"): what an earlier run
left in the file (cancelled FUs, an old question) is never told again as new.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from orchestrator.adapters.report import (
    batch_label,
    candidate_label,
    fu_branch,
    gate_text,
    short_sha,
)
from orchestrator.models.status import BatchEntry, FuEntry, Gate, StatusFile

_FRESH = frozenset({"pending", "launching", "running"})
_FINAL_RELEASE = frozenset({"completed", "failed", "aborted"})
_ALERT_FU = frozenset({"needs_human", "failed", "blocked"})  # a person should look at these
_GROUPED_FU = frozenset({"cancelled", "blocked", "deferred", "skipped"})  # often in bulk
_GROUP_MIN = 4  # this many FUs ending the same way in one write: one sentence
_MESSAGE_MAX = 300
_FLAG_FOR_KIND = {"checkpoint": "--on-checkpoint", "batch_failure": "--on-batch-failure"}


@dataclass(frozen=True)
class Sentence:
    """One line for the human output; `key` ones are shown above a live table too."""

    text: str
    key: bool = True


def narrate(
    previous: StatusFile | None, current: StatusFile, *, decide_args: str = ""
) -> list[Sentence]:
    """What happened between `previous` and `current` (None: the run's first snapshot).

    `decide_args` is appended to the `orchd decide` command shown (e.g. `--repo-root PATH`)."""
    if previous is None:
        return [opening(current)]
    sentences = _decisions(previous, current)
    fu_sentences = _fu_sentences(previous, current)
    for index, batch in enumerate(current.batches):
        old = previous.batches[index] if index < len(previous.batches) else None
        if old is not None and old.batch_id != batch.batch_id:
            old = None  # laid out anew: nothing to compare with
        sentences += _batch_story(old, batch, fu_sentences.get(index, []), current)
    sentences += _full_suite(previous, current)
    sentences += [Sentence(_one_line(e.message)) for e in current.errors[len(previous.errors) :]]
    told = {alert.key for alert in previous.alerts}
    sentences += [
        Sentence(_one_line(f"alert: {a.message}")) for a in current.alerts if a.key not in told
    ]
    sentences += _question(previous, current, decide_args)
    sentences += _finished(previous, current)
    return sentences


def opening(current: StatusFile) -> Sentence:
    """`release v0.1.1: 28 FUs in 14 batches; …` or, after a restart, `… resumed: 7 of 28…`."""
    fus = _all_fus(current)
    landed = sum(fu.status == "completed" for fu in fus)
    release = f"release {current.release_id}"
    branch = current.integration_branch
    head = f" at {short_sha(current.integration_sha)}" if current.integration_sha else ""
    # the first write of a fresh run already holds launches: anything further is an earlier run's
    if landed or any(fu.status not in _FRESH or fu.attempts > 1 for fu in fus):
        onto = f" on {branch}{head}" if branch else ""
        return Sentence(
            f"{release} resumed: {landed} of {len(fus)} FUs landed{onto}; {len(fus) - landed} to go"
        )
    text = f"{release}: {_plural(len(fus), 'FU')} in {_plural(len(current.batches), 'batch')}"
    if branch:
        base = f" from {current.base_branch}" if current.base_branch else ""
        text += f"; orchd builds {branch}{base}{head}"
    return Sentence(text)


def awaiting_sentence(release_id: str, awaiting: Mapping[str, Any], decide_args: str = "") -> str:
    """`waiting for you: run `orchd decide v0.1.1 retry|fix|skip|abort` (batch 2 failed)`."""
    kind = str(awaiting.get("kind") or "decision")
    batch = batch_label(awaiting.get("batch_id"))
    raw_choices = awaiting.get("choices")
    choices = [str(c) for c in raw_choices] if isinstance(raw_choices, list) else []
    command = f"orchd decide {release_id} {'|'.join(choices) or 'ACTION'}"
    if decide_args:
        command += f" {decide_args}"
    if kind == "batch_failure":
        what = f"batch {batch} failed"
    elif kind == "checkpoint":
        what = f"checkpoint after batch {batch}: review before the release goes on"
    else:
        what = kind.replace("_", " ")
    deadline = _when(awaiting.get("deadline"))
    if deadline:
        what += f"; orchd aborts at {deadline} if nobody answers"
    return f"waiting for you: run `{command}` ({what})"


def fu_line(fu: FuEntry, batch: BatchEntry) -> str:
    """`batch 0.7 FU-103: merged attempt 1, into candidate b0.7.1`: one FU's new state."""
    extra = f" attempt {fu.attempts}" if fu.attempts else ""
    if fu.worker_agent_id and fu.status in {"launching", "running"}:
        extra += f" agent {fu.worker_agent_id}"
    branch = fu_branch(fu)
    label = candidate_label(batch.candidate)
    if fu.status == "delivered" and branch:
        extra += f", branch {branch}"
    elif fu.status == "merged" and label:
        extra += f", into candidate {label}"
    elif fu.status == "completed" and fu.merge_commit:
        extra += f", landed as merge {short_sha(fu.merge_commit)}"
    elif fu.status == "deferred" and branch:
        extra += f", branch {branch} kept"
    head = f"batch {batch_label(batch.batch_id)} {fu.fu_id}"
    if fu.error and fu.status != "completed":
        error = _one_line(fu.error)
        if error.startswith(f"{fu.status}:"):  # `blocked: dependency FU-105 is deferred`
            return f"{head}: {error}"
        extra += f" — {error}"
    return f"{head}: {fu.status}{extra}"


def gate_sentence(subject: str, gate: Gate) -> str:
    """`batch 2: gate failed: IT-004 (log …/gate_logs/batch-2.log)`, `… gate passed (3 tests)`."""
    text = f"{subject}: gate {gate_text(gate)}"
    if gate.status == "failed":
        logs = list(dict.fromkeys(t.log for t in gate.tests if t.status != "passed" and t.log))
        if logs:
            text += f" (log {', '.join(logs)})"
    return text


# --- what changed -----------------------------------------------------------------------------


def _fu_sentences(
    previous: StatusFile, current: StatusFile
) -> dict[int, list[tuple[FuEntry, Sentence]]]:
    """By batch position: one sentence per FU whose state or attempt changed; many FUs ending
    alike in one write: one sentence, with the batch of the first."""
    before = {fu.fu_id: fu for fu in _all_fus(previous)}
    changed: list[tuple[int, FuEntry, BatchEntry]] = []
    for index, batch in enumerate(current.batches):
        for fu in batch.feature_units:
            old = before.get(fu.fu_id)
            if old is None and fu.status == "pending":
                continue
            if old is not None and (old.status, old.attempts) == (fu.status, fu.attempts):
                continue
            changed.append((index, fu, batch))
    alike = Counter((fu.status, fu.error) for _, fu, _ in changed if fu.status in _GROUPED_FU)
    sentences: dict[int, list[tuple[FuEntry, Sentence]]] = {}
    told: set[tuple[str, str | None]] = set()
    for index, fu, batch in changed:
        group = (fu.status, fu.error)
        key = fu.status in _ALERT_FU
        if alike.get(group, 0) < _GROUP_MIN:
            sentences.setdefault(index, []).append((fu, Sentence(fu_line(fu, batch), key=key)))
        elif group not in told:
            told.add(group)
            ids = [f.fu_id for _, f, _ in changed if (f.status, f.error) == group]
            error = _one_line(fu.error or "")
            if error.startswith(f"{fu.status}:"):
                what = error
            else:
                what = f"{fu.status} — {error}" if error else fu.status
            text = f"{len(ids)} FUs {what}: {', '.join(ids)}"
            sentences.setdefault(index, []).append((fu, Sentence(text, key=key)))
    return sentences


def _batch_story(
    old: BatchEntry | None,
    batch: BatchEntry,
    fu_lines: list[tuple[FuEntry, Sentence]],
    current: StatusFile,
) -> list[Sentence]:
    """One batch's changes in the order they happen, however many one write holds: the batch
    starts, its FUs run and merge, the gate starts and ends, its FUs land, the batch lands."""
    if old is None:
        return [sentence for _, sentence in fu_lines]
    label = f"batch {batch_label(batch.batch_id)}"
    story: list[Sentence] = []
    if batch.status == "running" and old.status != "running":
        again = old.status not in {"pending", "running"}
        story.append(Sentence(f"{label}: running{' again' if again else ''}", key=again))
    story += [sentence for fu, sentence in fu_lines if fu.status != "completed"]
    candidate = candidate_label(batch.candidate)
    if batch.status == "gating" and old.status != "gating":
        on = f" on candidate {candidate}" if candidate else ""
        story.append(Sentence(f"{label}: gate started{on}"))
    elif batch.status == old.status == "gating" and candidate and batch.candidate != old.candidate:
        story.append(
            Sentence(
                f"{label}: gate restarted on candidate {candidate} (rebuilt on the release "
                "branch's new head)"
            )
        )
    if batch.gate is not None and batch.gate != old.gate:
        story.append(Sentence(gate_sentence(label, batch.gate)))
    story += [sentence for fu, sentence in fu_lines if fu.status == "completed"]
    if batch.landed_sha and batch.landed_sha != old.landed_sha:
        onto = current.integration_branch or "the release branch"
        fus = [fu.fu_id for fu in batch.feature_units if fu.status == "completed"]
        landed = f"{label} landed on {onto} at {short_sha(batch.landed_sha)}: {', '.join(fus)}"
        story.append(Sentence(landed))
    elif batch.status != old.status:
        story += _batch_end(label, batch.status)
    return story


def _batch_end(label: str, status: str) -> list[Sentence]:
    if status == "skipped":
        return [Sentence(f"{label} skipped: its FUs not landed are deferred")]
    if status in {"failed", "cancelled"}:
        return [Sentence(f"{label} {status}")]
    if status == "completed":
        return [Sentence(f"{label}: completed", key=False)]
    return []  # running, gating and awaiting_decision are told elsewhere


def _full_suite(previous: StatusFile, current: StatusFile) -> list[Sentence]:
    old, new = _extra(previous, "full_suite"), _extra(current, "full_suite")
    if not isinstance(new, dict) or new == old:
        return []
    try:
        gate = Gate.model_validate(new)
    except ValueError:
        return []
    branch = current.integration_branch or "the release branch"
    return [Sentence(gate_sentence(f"full suite on {branch}", gate))]


def _decisions(previous: StatusFile, current: StatusFile) -> list[Sentence]:
    old = _records(_extra(previous, "decisions"))
    new = _records(_extra(current, "decisions"))
    return [Sentence(_decision_text(record)) for record in new[len(old) :]]


def _decision_text(record: Mapping[str, Any]) -> str:
    kind = str(record.get("kind") or "")
    batch = batch_label(record.get("batch_id"))
    action = str(record.get("action") or "?")
    by = str(record.get("by") or "someone")
    what = f"checkpoint after batch {batch}" if kind == "checkpoint" else f"batch {batch} failure"
    if by == "deadline":
        return f"deadline passed: nobody answered the {what} in time; orchd chose {action}"
    if by == "policy":
        flag = _FLAG_FOR_KIND.get(kind, "policy")
        reached = " reached" if kind == "checkpoint" else ""
        return f"{what}{reached}: {action} ({flag} {action})"
    who = "you at the prompt" if by == "terminal" else by
    text = f"{what}: {action}, decided by {who}"
    reason = str(record.get("reason") or "").strip()
    return f"{text} ({_one_line(reason)})" if reason else text


def _question(previous: StatusFile, current: StatusFile, decide_args: str) -> list[Sentence]:
    new = current.orchestrator.awaiting
    if not new:
        return []
    old = previous.orchestrator.awaiting or {}
    if all(old.get(k) == new.get(k) for k in ("kind", "batch_id", "since")):
        return []
    return [Sentence(awaiting_sentence(current.release_id, new, decide_args))]


def _finished(previous: StatusFile, current: StatusFile) -> list[Sentence]:
    status = current.orchestrator.status
    if status not in _FINAL_RELEASE or status == previous.orchestrator.status:
        return []
    fus = _all_fus(current)
    counts = Counter(fu.status for fu in fus)
    landed = counts.pop("completed", 0)
    text = f"release {current.release_id} {status}: {landed} of {len(fus)} FUs landed"
    if landed and current.integration_branch:
        text += f" on {current.integration_branch} at {short_sha(current.integration_sha)}"
    if counts:
        text += "; " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    return [Sentence(text)]


# --- small helpers ----------------------------------------------------------------------------


def _all_fus(snapshot: StatusFile) -> list[FuEntry]:
    return [fu for batch in snapshot.batches for fu in batch.feature_units]


def _extra(snapshot: StatusFile, key: str) -> Any:
    return (snapshot.model_extra or {}).get(key)


def _records(value: Any) -> list[Mapping[str, Any]]:
    return [r for r in value if isinstance(r, Mapping)] if isinstance(value, Iterable) else []


def _when(value: Any) -> str:
    """An ISO time from the status file as `2026-11-30 14:05 UTC`; '' when absent or odd."""
    if not isinstance(value, str) or not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _plural(count: int, word: str) -> str:
    if count == 1:
        return f"1 {word}"
    return f"{count} {word}es" if word.endswith("ch") else f"{count} {word}s"


def _one_line(text: str, limit: int = _MESSAGE_MAX) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
