"""The interactive prompt on a terminal: the failure summary and the choices, one line back."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

import anyio


def _render(kind: str, batch_label: str, reason: str, choices: Sequence[str]) -> str:
    title = "batch failed" if kind == "batch_failure" else "checkpoint"
    options = " / ".join(choices)
    extra = "  (retry --all relaunches every FU of the batch)" if "retry" in choices else ""
    return (
        f"\n=== orchd: {title}: batch {batch_label} ===\n{reason}\n"
        f"choose {options}{extra} (or run `orchd decide` from another shell): "
    )


def parse_reply(reply: str, choices: Sequence[str]) -> tuple[str, bool] | None:
    """`retry`, `retry --all`, a unique prefix (`r`, `s`, `a`, `c`), or None when unclear."""
    words = reply.strip().lower().split()
    if not words:
        return None
    all_fus = "--all" in words[1:]
    matches = [c for c in choices if c.startswith(words[0])]
    if len(matches) != 1 or (all_fus and matches[0] != "retry"):
        return None
    return matches[0], all_fus


async def ask_terminal(
    kind: str,
    batch_label: str,
    reason: str,
    choices: Sequence[str],
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> tuple[str, bool]:
    """Ask until a valid choice is typed; end of input means the terminal is gone: never return."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stderr
    prompt = _render(kind, batch_label, reason, choices)
    while True:
        stdout.write(prompt)
        stdout.flush()
        line = await anyio.to_thread.run_sync(stdin.readline, abandon_on_cancel=True)
        if line == "":
            await anyio.sleep_forever()
        parsed = parse_reply(line, choices)
        if parsed is not None:
            return parsed
        stdout.write(f"not one of {', '.join(choices)}\n")
