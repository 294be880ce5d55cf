"""The timeline (Gantt) picture: one bar per FU from launch to end, grouped by batch.

Server-rendered inline SVG, styled only by classes (the page's CSP allows no inline styles):
bars are coloured by status (`st-<status>`), an open bar (still running) ends at now with a
dashed edge, a retried FU carries its attempt number (`a2`), and failures of earlier attempts
recorded in `errors[]` are red ticks. Every value from the status file is escaped.
"""

from __future__ import annotations

import re
from html import escape

from orchestrator.adapters.dashboard.units import duration_text
from orchestrator.models.dashboard import Timeline, TimelineBar

WIDTH = 960
LABEL_W = 130
RIGHT_PAD = 44
AXIS_H = 24
GROUP_H = 22
ROW_H = 18
BAR_H = 12
_MAX_TICKS = 6
_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200)


def tick_step_s(span_s: float) -> float:
    """A round step (1 s, 5 min, 1 h…) giving at most six ticks over the span."""
    for step in _STEPS_S:
        if span_s / step <= _MAX_TICKS:
            return float(step)
    return float(86400 * max(1, int(span_s / 86400 / _MAX_TICKS) + 1))


def tick_text(t: float) -> str:
    """`0`, `30s`, `5m`, `2h`: the ticks are round, so their labels can be short."""
    if t == 0:
        return "0"
    if t % 3600 == 0:
        return f"{t / 3600:g}h"
    if t % 60 == 0:
        return f"{t / 60:g}m"
    return f"{t:g}s"


def status_class(status: str) -> str:
    """`st-<status>` with anything but letters and underscores dropped (it is file content)."""
    return "st-" + (re.sub(r"[^a-z_]", "", status.lower())[:32] or "unknown")


def _bar(bar: TimelineBar, y: float, plot_w: float, span: float) -> list[str]:
    x0 = LABEL_W + bar.start_s / span * plot_w
    width = max((bar.end_s - bar.start_s) / span * plot_w, 2.0)
    classes = f"bar {status_class(bar.status)}" + (" open" if bar.open else "")
    tip = (
        f"{bar.fu_id}: {bar.status}, attempt {bar.attempts or 1}, "
        f"{duration_text(bar.end_s - bar.start_s)}{' so far' if bar.open else ''}"
    )
    parts = [
        f'<g class="fu" data-fu="{escape(bar.fu_id)}" data-status="{escape(bar.status)}">',
        f'<text class="label" x="{LABEL_W - 6}" y="{y + BAR_H - 2:.1f}">{escape(bar.fu_id)}</text>',
        f'<rect class="{classes}" x="{x0:.1f}" y="{y:.1f}" width="{width:.1f}" '
        f'height="{BAR_H}" rx="2"><title>{escape(tip)}</title></rect>',
    ]
    if bar.attempts > 1:
        parts.append(
            f'<text class="attempts" x="{x0 + width + 4:.1f}" y="{y + BAR_H - 2:.1f}">'
            f"a{bar.attempts}</text>"
        )
    for at_s in bar.failures_s:
        x = LABEL_W + max(at_s, 0.0) / span * plot_w
        parts.append(
            f'<line class="failure" x1="{x:.1f}" x2="{x:.1f}" y1="{y - 2:.1f}" '
            f'y2="{y + BAR_H + 2:.1f}"><title>earlier attempt failed</title></line>'
        )
    parts.append("</g>")
    return parts


def timeline_svg(timeline: Timeline) -> str:
    """The picture, or a line saying nothing has been launched yet."""
    if timeline.origin is None:
        return '<p class="muted">No FU launched yet.</p>'
    span = timeline.span_s or 1.0
    plot_w = WIDTH - LABEL_W - RIGHT_PAD
    body: list[str] = []
    y = float(AXIS_H)
    for group in timeline.groups:
        body.append(
            f'<text class="group" x="4" y="{y + 15:.1f}">batch {escape(group.batch_id)} · '
            f"{escape(group.status)}</text>"
        )
        y += GROUP_H
        for bar in group.bars:
            body.extend(_bar(bar, y + 3, plot_w, span))
            y += ROW_H
        for fu_id in group.waiting:
            body.append(
                f'<g class="fu" data-fu="{escape(fu_id)}" data-status="waiting">'
                f'<text class="label muted" x="{LABEL_W - 6}" y="{y + BAR_H + 1:.1f}">'
                f"{escape(fu_id)}</text>"
                f'<text class="waiting" x="{LABEL_W + 4}" y="{y + BAR_H + 1:.1f}">'
                "not launched</text></g>"
            )
            y += ROW_H
    height = y + 6
    axis = []
    step = tick_step_s(span)
    for i in range(int(span // step) + 1):
        t = step * i
        x = LABEL_W + t / span * plot_w
        axis.append(
            f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{AXIS_H - 4}" y2="{height:.1f}"/>'
            f'<text class="tick" x="{x:.1f}" y="{AXIS_H - 8}">{tick_text(t)}</text>'
        )
    if timeline.now_s is not None:
        x = LABEL_W + timeline.now_s / span * plot_w
        axis.append(
            f'<line class="now" x1="{x:.1f}" x2="{x:.1f}" y1="{AXIS_H - 4}" y2="{height:.1f}"/>'
        )
    return (
        f'<svg class="timeline" role="img" aria-label="FU timeline" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" width="100%" xmlns="http://www.w3.org/2000/svg">'
        + "".join(axis + body)
        + "</svg>"
    )
