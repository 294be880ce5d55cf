"""Parse batches out of neotoma's `execution_schedule.md`, in every shape the real files use.

Three sources inside one file, in order of precedence:
1. a `### Machine-Readable Batches (Orchestrator)` section (v0.2.0) — wins when present;
2. `#### Batch 0.5: title` / `### Batch N` sections listing FUs under `**Feature Units:**`
   (as `` - `FU-050`: title `` or `- **FU-850**: title`) and their `**Dependencies:**`;
3. the overview table (`| Batch ID | Feature Units | Dependencies | …`).
Batch ids stay exact decimals: `0.5` is not `0` (the original script's parseInt bug).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from orchestrator.core.markdown_tables import tables
from orchestrator.models.batch_id import format_batch_id, parse_batch_id

FU_ID = r"FU-[A-Za-z0-9]+(?:[-_.][A-Za-z0-9]+)*"
FU_ID_RE = re.compile(FU_ID)
_HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BATCH_HEADING_RE = re.compile(r"^Batch\s+(-?\d+(?:\.\d+)?)\b\s*(?:[:—–-]\s*)?(.*)$", re.IGNORECASE)
_MACHINE_READABLE_RE = re.compile(r"machine[- ]readable\s+batches", re.IGNORECASE)
_LABEL_RE = re.compile(r"^\s*(?:[-*+]\s+)?\*\*([^*]+?)\*\*\s*:?\s*(.*)$")
_LIST_FU_RE = re.compile(rf"^\s*[-*+]\s+[`*_]*({FU_ID})[`*_]*(.*)$")
_FENCE_RE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class MdBatch:
    """One batch as the markdown states it; `line` is 1-based."""

    batch_id: Decimal
    feature_units: tuple[str, ...]
    dependencies: tuple[str, ...] = ()
    title: str = ""
    line: int = 0


@dataclass(frozen=True)
class MdSchedule:
    """The batches the file gives, where they came from, FU titles seen, and oddities."""

    batches: tuple[MdBatch, ...] = ()
    origin: str = "none"
    fu_titles: dict[str, str] = field(default_factory=dict)
    notes: tuple[tuple[int, str], ...] = ()


def _batch_id(text: str) -> Decimal | None:
    try:
        return parse_batch_id(text.strip().strip("*`_ "))
    except ValueError:
        return None


def _headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """(index, level, text) of every ATX heading outside fenced code blocks."""
    found: list[tuple[int, int, str]] = []
    in_fence = False
    for index, line in enumerate(lines):
        if _FENCE_RE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        match = _HEADING_RE.match(line)
        if match:
            found.append((index, len(match.group(1)), match.group(2)))
    return found


def _section_end(headings: list[tuple[int, int, str]], start: int, level: int, n: int) -> int:
    for index, other_level, _ in headings:
        if index > start and other_level <= level:
            return index
    return n


def _parse_section(
    lines: list[str], start: int, end: int, titles: dict[str, str]
) -> tuple[list[str], list[str]]:
    """FUs (under `Feature Units`, or unlabelled list items) and dependencies of one batch."""
    fus: list[str] = []
    deps: list[str] = []
    mode = "pre"
    in_fence = False
    for line in lines[start + 1 : end]:
        if _FENCE_RE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        item = _LIST_FU_RE.match(line)
        if item:
            fu_id = item.group(1)
            title = item.group(2).strip().lstrip(":—–-").strip()
            if mode in {"pre", "fus"}:
                if fu_id not in fus:
                    fus.append(fu_id)
                if title and fu_id not in titles:
                    titles[fu_id] = title
            elif mode == "deps" and fu_id not in deps:
                deps.append(fu_id)
            continue
        label = _LABEL_RE.match(line)
        if label:
            name = label.group(1).strip().rstrip(":").lower()
            rest = label.group(2)
            if name.startswith("feature unit") or name in {"fus", "fu"}:
                mode = "fus"
                fus.extend(i for i in FU_ID_RE.findall(rest) if i not in fus)
            elif name.startswith("depend"):
                mode = "deps"
                deps.extend(i for i in FU_ID_RE.findall(rest) if i not in deps)
            else:
                mode = "other"
    return fus, deps


def _batches_from_headings(
    lines: list[str],
    headings: list[tuple[int, int, str]],
    lo: int,
    hi: int,
    titles: dict[str, str],
) -> list[MdBatch]:
    batches: list[MdBatch] = []
    for index, level, text in headings:
        if not lo <= index < hi:
            continue
        match = _BATCH_HEADING_RE.match(text)
        if not match:
            continue
        batch_id = _batch_id(match.group(1))
        if batch_id is None:
            continue
        end = min(_section_end(headings, index, level, len(lines)), hi)
        fus, deps = _parse_section(lines, index, end, titles)
        batches.append(
            MdBatch(batch_id, tuple(fus), tuple(deps), match.group(2).strip(), index + 1)
        )
    return batches


def _batches_from_table(lines: list[str]) -> list[MdBatch]:
    """The first table whose header has a batch column and a feature-units column."""
    for table in tables(lines):
        batch_col = table.column(lambda c: c.startswith("batch"))
        fu_col = table.column(lambda c: "feature unit" in c or c in {"fus", "fu"})
        dep_col = table.column(lambda c: c.startswith("depend"))
        if batch_col is None or fu_col is None or not table.has_separator:
            continue
        batches: list[MdBatch] = []
        for row, cells in table.rows:
            if len(cells) <= max(batch_col, fu_col):
                continue
            batch_id = _batch_id(cells[batch_col])
            if batch_id is None:
                continue
            fus = tuple(dict.fromkeys(FU_ID_RE.findall(cells[fu_col])))
            deps: tuple[str, ...] = ()
            if dep_col is not None and dep_col < len(cells):
                deps = tuple(dict.fromkeys(FU_ID_RE.findall(cells[dep_col])))
            batches.append(MdBatch(batch_id, fus, deps, "", row + 1))
        if batches:
            return batches
    return []


def _as_map(batches: list[MdBatch]) -> dict[Decimal, frozenset[str]]:
    return {b.batch_id: frozenset(b.feature_units) for b in batches}


def parse_schedule_md(text: str) -> MdSchedule:
    """Batches of an execution_schedule.md; never raises on any text."""
    lines = text.splitlines()
    headings = _headings(lines)
    titles: dict[str, str] = {}
    notes: list[tuple[int, str]] = []

    for index, level, heading in headings:
        if _MACHINE_READABLE_RE.search(heading):
            end = _section_end(headings, index, level, len(lines))
            batches = _batches_from_headings(lines, headings, index + 1, end, titles)
            if batches:
                _collect_titles(lines, headings, titles)
                return MdSchedule(tuple(batches), "machine-readable section", titles, ())
            notes.append((index + 1, "machine-readable section lists no batches; ignored"))

    sections = _batches_from_headings(lines, headings, 0, len(lines), titles)
    table = _batches_from_table(lines)
    if sections:
        if table and _as_map(table) != _as_map(sections):
            notes.append(
                (
                    table[0].line,
                    "the batch overview table disagrees with the `Batch N` sections "
                    "(the sections win)",
                )
            )
        return MdSchedule(tuple(sections), "batch sections", titles, tuple(notes))
    if table:
        return MdSchedule(tuple(table), "overview table", titles, tuple(notes))
    return MdSchedule((), "none", titles, tuple(notes))


def _collect_titles(
    lines: list[str], headings: list[tuple[int, int, str]], titles: dict[str, str]
) -> None:
    """FU titles from the other batch sections, for FUs the manifest leaves unnamed."""
    _batches_from_headings(lines, headings, 0, len(lines), titles)


def describe_difference(
    manifest: dict[Decimal, frozenset[str]], markdown: dict[Decimal, frozenset[str]]
) -> str:
    """Short human summary of how two batch maps differ (for the disagreement warning)."""
    parts: list[str] = []
    for batch_id in sorted(set(manifest) | set(markdown)):
        a, b = manifest.get(batch_id), markdown.get(batch_id)
        name = format_batch_id(batch_id)
        if a is None:
            parts.append(f"batch {name} only in the markdown")
        elif b is None:
            parts.append(f"batch {name} only in the manifest")
        elif a != b:
            parts.append(f"batch {name} FUs differ")
    return "; ".join(parts[:4]) + ("; …" if len(parts) > 4 else "")
