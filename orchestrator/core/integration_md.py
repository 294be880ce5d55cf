"""Parse neotoma's `integration_tests.md` into IntegrationTest models (the engine runs them).

Real shapes: `#### IT-001: name` or `### IT-001: name` sections; batches from a matrix table
(`| ID | Name | Batches Covered | …`) and/or `**Batches Covered:** 0, 1` lines; the command as
`test: "file"` (possibly inside a code block), `**test:** "file"`, or a `**Command**:` label
followed by a fenced block. The original script's pattern matched none of these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from orchestrator.core.markdown_tables import tables
from orchestrator.models.batch_id import parse_batch_id
from orchestrator.models.release import IntegrationTest, Source

IT_ID_RE = re.compile(r"\bIT-\d+\b")
_HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_IT_HEADING_RE = re.compile(r"^(IT-\d+)\b\s*(?:[:—–-]\s*)?(.*)$")
_FENCE_RE = re.compile(r"^\s*(```|~~~)")
_NUMBER_RE = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.]*\d)")


@dataclass
class _Draft:
    id: str
    name: str = ""
    batches: tuple[Decimal, ...] = ()
    command: str | None = None
    line: int = 0


def _plain(line: str) -> str:
    """A line without list markers and bold/backtick marks, for label matching."""
    text = re.sub(r"^\s*[-*+]\s+", "", line)
    return text.replace("**", "").strip()


def _unquote(text: str) -> str:
    text = text.strip()
    for quote in ('"', "'", "`"):
        if len(text) >= 2 and text.startswith(quote) and text.endswith(quote):
            return text[1:-1].strip()
    return text


def parse_batch_list(text: str) -> tuple[Decimal, ...]:
    """`0.5, 0.6, 5` → exact decimals; words like `All` or `None` give nothing."""
    found: list[Decimal] = []
    for token in _NUMBER_RE.findall(text):
        try:
            value = parse_batch_id(token)
        except ValueError:
            continue
        if value not in found:
            found.append(value)
    return tuple(found)


def _table_rows(lines: list[str], drafts: dict[str, _Draft]) -> None:
    """Names and batches from any table with an IT id column (matrix, summary)."""
    for table in tables(lines):
        id_col = table.column(lambda c: c in {"id", "test id", "test"})
        name_col = table.column(lambda c: c in {"name", "test name"})
        batch_col = table.column(lambda c: c.startswith("batch"))
        if id_col is None:
            continue
        for row, cells in table.rows:
            match = IT_ID_RE.search(cells[id_col]) if id_col < len(cells) else None
            if not match:
                continue
            draft = drafts.setdefault(match.group(0), _Draft(match.group(0), line=row + 1))
            if name_col is not None and name_col < len(cells) and not draft.name:
                draft.name = cells[name_col]
            if batch_col is not None and batch_col < len(cells):
                extra = parse_batch_list(cells[batch_col])
                draft.batches = tuple(dict.fromkeys(draft.batches + extra))


def _code_block_after(lines: list[str], start: int, end: int) -> str | None:
    """Joined non-empty lines of the first fenced block after `start`, before `end`."""
    index = start + 1
    while index < end and not _FENCE_RE.match(lines[index]):
        if lines[index].strip() and not lines[index].strip().startswith(">"):
            return None
        index += 1
    if index >= end:
        return None
    body: list[str] = []
    for line in lines[index + 1 : end]:
        if _FENCE_RE.match(line):
            break
        if line.strip():
            body.append(line.strip())
    return " && ".join(body) or None


def _section(lines: list[str], start: int, end: int, draft: _Draft) -> None:
    for index in range(start + 1, end):
        plain = _plain(lines[index])
        lowered = plain.lower()
        if lowered.startswith("batches covered"):
            rest = plain.split(":", 1)[1] if ":" in plain else ""
            draft.batches = tuple(dict.fromkeys(draft.batches + parse_batch_list(rest)))
        elif lowered.startswith("test:") and draft.command is None:
            value = _unquote(plain[5:])
            draft.command = value or None
        elif lowered.startswith("command") and draft.command is None:
            rest = _unquote(plain.split(":", 1)[1]) if ":" in plain else ""
            draft.command = rest or _code_block_after(lines, index, end)


def parse_integration_md(text: str, *, file: str) -> tuple[IntegrationTest, ...]:
    """Every IT-### named in the file, in order of first appearance; never raises."""
    lines = text.splitlines()
    headings: list[tuple[int, int, str]] = []
    in_fence = False
    for index, line in enumerate(lines):
        if _FENCE_RE.match(line):
            in_fence = not in_fence
            continue
        match = None if in_fence else _HEADING_RE.match(line)
        if match:
            headings.append((index, len(match.group(1)), match.group(2)))

    drafts: dict[str, _Draft] = {}
    for position, (index, level, heading) in enumerate(headings):
        match = _IT_HEADING_RE.match(heading)
        if not match:
            continue
        end = next((i for i, other, _ in headings[position + 1 :] if other <= level), len(lines))
        draft = drafts.get(match.group(1))
        if draft is None:
            draft = drafts[match.group(1)] = _Draft(match.group(1), line=index + 1)
        else:
            draft.line = index + 1
        draft.name = match.group(2).strip() or draft.name
        _section(lines, index, end, draft)
    _table_rows(lines, drafts)

    return tuple(
        IntegrationTest(
            id=d.id,
            name=d.name,
            batches=d.batches,
            command=d.command,
            source=Source(file=file, line=d.line or None),
        )
        for d in sorted(drafts.values(), key=lambda d: (d.line, d.id))
    )
