"""Merge commit messages and their trailers, pure: how orchd labels what it landed.

The trailers (`Orchd-FU: FU-12`) are the durable record on the release branch itself: a restarted
orchd reads them back from the first-parent log to learn which FUs already landed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

TRAILER_RELEASE = "Orchd-Release"
TRAILER_FU = "Orchd-FU"
TRAILER_AGENT = "Orchd-Agent"
TRAILER_BATCH = "Orchd-Batch"

_KEY = re.compile(r"[A-Za-z0-9-]+")
_TRAILER_LINE = re.compile(r"^(?P<key>[A-Za-z0-9-]+): (?P<value>.+)$")


def _one_line(text: str) -> str:
    """Collapse every run of whitespace (newlines included) to one space."""
    return " ".join(text.split())


def merge_message(subject: str, body: str, trailers: Mapping[str, str]) -> str:
    """Subject, blank line, body (if any), blank line, `Key: value` lines.

    Newlines in the subject and in trailer values are folded into spaces, so a title pasted from
    a spec can never break the trailer block; empty or malformed keys and empty values raise.
    """
    head = _one_line(subject)
    if not head:
        raise ValueError("a merge message needs a non-empty subject")
    paragraphs = [head]
    text = body.strip()
    if text:
        paragraphs.append(text)
    lines = []
    for key, value in trailers.items():
        if not _KEY.fullmatch(key):
            raise ValueError(f"trailer key {key!r} must be letters, digits and '-'")
        flat = _one_line(value)
        if not flat:
            raise ValueError(f"trailer {key} has an empty value")
        lines.append(f"{key}: {flat}")
    if lines:
        paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs) + "\n"


def parse_trailers(message: str) -> dict[str, str]:
    """The `Key: value` lines of the message's last paragraph (git's rule, simplified).

    The last paragraph counts only if it is not the subject and every line in it is a trailer;
    otherwise there are none. A repeated key keeps its last value.
    """
    text = message.replace("\r\n", "\n").strip()
    paragraphs = [p for p in re.split(r"\n[ \t]*\n", text) if p.strip()]
    if len(paragraphs) < 2:
        return {}
    trailers: dict[str, str] = {}
    for line in paragraphs[-1].splitlines():
        match = _TRAILER_LINE.match(line.rstrip())
        if match is None:
            return {}
        trailers[match["key"]] = match["value"].strip()
    return trailers
