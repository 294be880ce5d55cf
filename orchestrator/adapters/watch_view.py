"""What `orchd watch` shows and how its keys move between views (no terminal I/O here).

Three views: the report (as `orchd status` prints it), one FU in full, the error log. Typing
an FU's number (or id) and Enter opens its detail; `e` the errors; Esc goes back; `q` quits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from rich.console import Group, RenderableType
from rich.text import Text

from orchestrator.adapters.report import status_report
from orchestrator.adapters.report_detail import error_log, find_fus, fu_detail
from orchestrator.models.status import StatusFile

KEYS_HELP = "type an FU number + Enter: its details · e: errors · Esc: back · q: quit"
ENTER = {"\r", "\n"}
ESCAPE = "\x1b"
BACKSPACE = {"\x7f", "\b"}
QUIT = {"q", "\x03", "\x04"}  # q, Ctrl-C, Ctrl-D


class Screen(StrEnum):
    REPORT = "report"
    DETAIL = "detail"
    ERRORS = "errors"


@dataclass(frozen=True)
class ViewState:
    screen: Screen = Screen.REPORT
    fu_id: str | None = None
    typed: str = ""  # the FU number being typed
    message: str = ""  # what the last key did wrong (no such FU)


def on_key(state: ViewState, key: str, snapshot: StatusFile | None) -> ViewState | None:
    """The view after `key`; None to quit. Keys other than these are ignored."""
    if key in QUIT and not (key == "q" and state.typed):
        return None
    if key == ESCAPE:
        return ViewState()
    if key in BACKSPACE:
        return replace(state, typed=state.typed[:-1], message="")
    if key in ENTER:
        if not state.typed:
            return ViewState() if state.screen is not Screen.REPORT else state
        matches = find_fus(snapshot, state.typed) if snapshot is not None else []
        if len(matches) == 1:
            return ViewState(screen=Screen.DETAIL, fu_id=matches[0])
        problem = f"means {', '.join(matches)}" if matches else "is no FU of this release"
        return replace(state, typed="", message=f"{state.typed} {problem}")
    if key == "e" and not state.typed:
        return ViewState(screen=Screen.ERRORS)
    if len(key) == 1 and (key.isalnum() or key in "-_."):
        return replace(state, typed=state.typed + key, message="")
    return state


def split_keys(data: str) -> list[str]:
    """Keys from what the terminal sent: an escape sequence (arrow keys) is one ignored key,
    a lone Esc is Esc."""
    keys: list[str] = []
    index = 0
    while index < len(data):
        char = data[index]
        if char == ESCAPE and index + 1 < len(data) and data[index + 1] in "[O":
            end = index + 2
            while end < len(data) and not data[end].isalpha() and data[end] != "~":
                end += 1
            keys.append(data[index : end + 1])  # a sequence: not a key of ours
            index = end + 1
            continue
        keys.append(char)
        index += 1
    return keys


def footer(state: ViewState, header: str) -> Text:
    """Where the file is and when it changed, then the keys (and what is being typed)."""
    text = Text(header, style="dim")
    text.append("\n")
    if state.typed:
        text.append(f"FU: {state.typed}_  (Enter: show · Esc: cancel)", style="bold")
    elif state.message:
        text.append(f"{state.message} · {KEYS_HELP}", style="bold")
    else:
        text.append(KEYS_HELP)
    return text


def body(
    state: ViewState,
    snapshot: StatusFile | None,
    now: datetime,
    *,
    parallel: int | None,
    estimates_h: Mapping[str, float],
    options: str,
    waiting_for: str,
) -> RenderableType:
    """The current view of the snapshot (or why there is none yet)."""
    if snapshot is None:
        return Text(waiting_for)
    if state.screen is Screen.DETAIL and state.fu_id:
        return fu_detail(snapshot, state.fu_id, now)
    if state.screen is Screen.ERRORS:
        return error_log(snapshot)
    report = status_report(
        snapshot, now=now, parallel=parallel, estimates_h=estimates_h, options=options
    )
    return Group(report)
