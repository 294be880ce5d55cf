"""How long each FU is expected to take, read from what neotoma's schedules write (pure).

Scheduling to the lower bound needs durations: the slot policy serves the longest remaining
critical path first, and `orchd plan` predicts the makespan. neotoma writes estimates in three
places, all read here:

- tables with an FU column and an estimate column (`| FU-110 | … | 2-3h |`, v0.2.0);
- bullet lists (`- FU-050: 2 days (…)`, `- FU-201-206: 0.5 days each`, v0.1.0);
- an FU's own manifest entry (`estimate: 4h`, `estimated_hours: 3`).

A range counts as its midpoint; a day is 8 agent-hours (neotoma's own conversion: "FU-101:
1 day (… 6-8 hours …)"). FUs with no estimate get the median of the others.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestrator.core.markdown_tables import tables

if TYPE_CHECKING:  # `orchd status` reads estimates without the plan's models
    from orchestrator.models.release import ReleasePlan

HOURS_PER_DAY = 8.0
_UNITS = {
    "m": 1 / 60,
    "min": 1 / 60,
    "mins": 1 / 60,
    "minute": 1 / 60,
    "minutes": 1 / 60,
    "h": 1.0,
    "hr": 1.0,
    "hrs": 1.0,
    "hour": 1.0,
    "hours": 1.0,
    "d": HOURS_PER_DAY,
    "day": HOURS_PER_DAY,
    "days": HOURS_PER_DAY,
    "w": 5 * HOURS_PER_DAY,
    "wk": 5 * HOURS_PER_DAY,
    "week": 5 * HOURS_PER_DAY,
    "weeks": 5 * HOURS_PER_DAY,
}
_NUMBER = r"(\d+(?:\.\d+)?)"
_DURATION_RE = re.compile(
    _NUMBER + r"(?:\s*(?:-|–|to)\s*" + _NUMBER + r")?\s*(" + "|".join(_UNITS) + r")\b",
    re.IGNORECASE,
)
_FU_RE = re.compile(r"FU-\d+(?:\.\d+)?[a-z]?")
_BULLET_RE = re.compile(
    r"^\s*(?:[-*+]|\d+\.)\s+\**`?(FU-\d+(?:\.\d+)?[a-z]?)(?:\s*[-–]\s*(\d+))?`?\**\s*:\s*(.+)$"
)
_ESTIMATE_HEADER_RE = re.compile(r"est|effort|duration|time|hours", re.IGNORECASE)
_FU_HEADER_RE = re.compile(r"^(fu|feature unit|feature|unit|id|fu id)s?$", re.IGNORECASE)
_MANIFEST_KEYS = ("estimate_hours", "estimated_hours", "estimate", "estimated_effort", "effort")


@dataclass(frozen=True)
class Estimate:
    hours: float
    where: str  # "execution_schedule.md:69" or "manifest FU-050.estimate"
    text: str  # as written


def parse_duration(text: str) -> tuple[float, str] | None:
    """`2-3h` → (2.5, "h"); `0.5 days` → (4.0, "d"); None when no duration is written."""
    match = _DURATION_RE.search(text)
    if match is None:
        return None
    low = float(match.group(1))
    high = float(match.group(2)) if match.group(2) else low
    unit = match.group(3).lower()
    scale = _UNITS[unit]
    return (low + high) / 2 * scale, "d" if scale == HOURS_PER_DAY else "h"


def _expand(first: str, last_number: str | None) -> list[str]:
    """`FU-201` with `206` → FU-201 … FU-206 (the range neotoma's lists write)."""
    if last_number is None:
        return [first]
    digits = first.removeprefix("FU-")
    if (
        not digits.isdigit()
        or int(last_number) < int(digits)
        or int(last_number) - int(digits) > 99
    ):
        return [first]
    width = len(digits)
    return [f"FU-{n:0{width}d}" for n in range(int(digits), int(last_number) + 1)]


def estimates_from_markdown(text: str, *, file: str) -> dict[str, tuple[Estimate, str]]:
    """Per FU: its estimate and the unit it was written in, from tables then bullet lists."""
    lines = text.splitlines()
    found: dict[str, tuple[Estimate, str]] = {}
    for table in tables(lines):
        fu_col = table.column(lambda c: bool(_FU_HEADER_RE.match(c.strip("*` "))))
        est_col = table.column(lambda c: bool(_ESTIMATE_HEADER_RE.search(c)))
        if fu_col is None or est_col is None or fu_col == est_col:
            continue
        for row_no, cells in table.rows:
            if max(fu_col, est_col) >= len(cells):
                continue
            ids = _FU_RE.findall(cells[fu_col])
            parsed = parse_duration(cells[est_col])
            if len(ids) != 1 or parsed is None or ids[0] in found:
                continue
            hours, unit = parsed
            found[ids[0]] = (Estimate(hours, f"{file}:{row_no + 1}", cells[est_col]), unit)
    for row_no, line in enumerate(lines):
        match = _BULLET_RE.match(line)
        if match is None:
            continue
        parsed = parse_duration(match.group(3))
        if parsed is None:
            continue
        hours, unit = parsed
        for fu_id in _expand(match.group(1), match.group(2)):
            if fu_id not in found:
                text_ = match.group(3).strip()
                found[fu_id] = (Estimate(hours, f"{file}:{row_no + 1}", text_), unit)
    return found


def estimate_from_entry(fu_id: str, extra: Mapping[str, Any]) -> tuple[Estimate, str] | None:
    """An FU entry's own `estimate: 4h` (a bare number is hours)."""
    for key in _MANIFEST_KEYS:
        value = extra.get(key)
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float) and value > 0:
            hours = float(value) * (HOURS_PER_DAY if "day" in key else 1.0)
            return Estimate(hours, f"manifest {fu_id}.{key}", str(value)), "h"
        parsed = parse_duration(str(value))
        if parsed is not None:
            return Estimate(parsed[0], f"manifest {fu_id}.{key}", str(value)), parsed[1]
    return None


def display_unit(units: Iterable[str]) -> str:
    """Days when every estimate was written in days, else hours."""
    seen = set(units)
    return "d" if seen == {"d"} else "h"


def durations_h(fu_ids: Iterable[str], known: Mapping[str, float]) -> dict[str, float]:
    """Every FU's expected hours: its estimate, else the median of the known ones, else 1 h."""
    ids = list(fu_ids)
    values = [known[f] for f in ids if f in known and known[f] > 0]
    fallback = statistics.median(values) if values else 1.0
    return {f: known[f] if known.get(f, 0) > 0 else fallback for f in ids}


def plan_durations_h(plan: ReleasePlan) -> dict[str, float]:
    """Expected hours of every scheduled FU of a loaded plan (estimates, else their median)."""
    scheduled = dict.fromkeys(f for b in plan.batches for f in b.feature_units)
    known = {u.id: u.estimate_hours for u in plan.feature_units if u.estimate_hours}
    return durations_h(scheduled, known)
