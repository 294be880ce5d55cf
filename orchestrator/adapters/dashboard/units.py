"""Durations and rates as people read them on the page (`3m 05s`, `1h 02m`, `12.5%`)."""

from __future__ import annotations


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    if s < 60:
        return f"{sign}{s:.1f}s" if s < 10 else f"{sign}{s:.0f}s"
    minutes, secs = divmod(round(s), 60)
    if minutes < 60:
        return f"{sign}{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{sign}{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{sign}{days}d {hours:02d}h"


def percent_text(ratio: float | None) -> str:
    return "–" if ratio is None else f"{100 * ratio:.1f}%"
