"""What went wrong, counted once: the status file's `errors[]` grouped into failures.

An FU that escalates is recorded twice: the FU's own error, then its batch's failure, whose
message quotes it (`batch 2 failed: FU-301 needs_human: …`). Both stay in the file; a person is
told of one failure.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.models.status import ErrorEntry


@dataclass(frozen=True)
class Failure:
    """One thing that went wrong: its error, and the FU errors its message already quotes."""

    error: ErrorEntry
    quotes: tuple[ErrorEntry, ...] = ()


def failures(errors: list[ErrorEntry]) -> list[Failure]:
    """In recorded order; an FU error quoted by its batch's later failure joins that one."""
    quoted: dict[int, list[ErrorEntry]] = {}
    taken: set[int] = set()
    for index, error in enumerate(errors):
        if error.fu_id is not None or error.batch_id is None:
            continue
        for earlier_index in range(index):
            earlier = errors[earlier_index]
            if (
                earlier_index not in taken
                and earlier.fu_id is not None
                and earlier.batch_id == error.batch_id
                and earlier.message
                and earlier.message in error.message
            ):
                taken.add(earlier_index)
                quoted.setdefault(index, []).append(earlier)
    return [
        Failure(error, tuple(quoted.get(index, ())))
        for index, error in enumerate(errors)
        if index not in taken
    ]
