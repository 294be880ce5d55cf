"""`orchd plan`'s pictures of a predicted schedule: a Gantt chart in text (80 columns) and SVG.

Both draw the same `Prediction` (one bar per FU, grouped by batch, hours from the start) so a
person can see where the release waits: idle slots, a long FU late on the critical path, a
checkpoint's hold.
"""

from __future__ import annotations

import textwrap
from decimal import Decimal
from html import escape

from orchestrator.core.simulate import Bar, Comparison

HOURS_PER_DAY = 8.0


def in_unit(hours: float, unit: str) -> str:
    """`60 h` as `7.5 d` for a schedule written in days; one decimal, no trailing `.0`."""
    value = hours / HOURS_PER_DAY if unit == "d" else hours
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{text} {unit}"


def _batch(value: Decimal) -> str:
    return format(value, "f")


def comparison_lines(result: Comparison, unit: str, *, slots: int, high_risk: int) -> list[str]:
    """The four figures side by side, each against the lower bound."""
    bound = result.lower_bound_h or 1.0

    def row(label: str, hours: float | None, note: str = "") -> str:
        if hours is None:
            return f"  {label:<24} {'-':>9}  {note}"
        return f"  {label:<24} {in_unit(hours, unit):>9}  {hours / bound:5.2f}x  {note}".rstrip()

    path = " → ".join(result.critical_path)
    return [
        f"  {'':<24} {'makespan':>9}  vs bound",
        row("orchd (predicted)", result.predicted.makespan_h),
        row(
            "strict batch barrier",
            result.strict_barrier_h,
            ""
            if result.strict_barrier_h is not None
            else "impossible: a batch waits on a later one",
        ),
        row("sequential sum", result.sequential_h),
        row("lower bound", result.lower_bound_h),
        f"  lower bound = max(critical path {in_unit(result.critical_path_h, unit)}, "
        f"work / {slots} slot(s), high-risk work / {high_risk})",
        *textwrap.wrap(
            f"critical path: {path or '-'}",
            width=78,
            initial_indent="  ",
            subsequent_indent="    ",
            break_on_hyphens=False,
        ),
    ]


def text_gantt(bars: tuple[Bar, ...], unit: str, *, width: int = 80) -> list[str]:
    """One row per FU, `█` while it runs, batches separated; fits `width` columns."""
    if not bars:
        return ["  (nothing to run)"]
    end = max(b.end_h for b in bars) or 1.0
    label_w = max(len(b.fu_id) for b in bars) + 8
    chart_w = max(10, width - label_w - 2)
    scale = chart_w / end
    step = end / chart_w
    lines = [f"  1 column = {in_unit(step, unit)}; `!` = high-risk"]
    last_batch: Decimal | None = None
    for bar in sorted(bars, key=lambda b: (b.batch_id, b.start_h, b.fu_id)):
        if bar.batch_id != last_batch:
            lines.append(f"  batch {_batch(bar.batch_id)}")
            last_batch = bar.batch_id
        start = round(bar.start_h * scale)
        stop = max(start + 1, round(bar.end_h * scale))
        mark = "!" if bar.high_risk else "█"
        row = " " * start + mark * (stop - start)
        lines.append(f"  {bar.fu_id:<{label_w - 2}}{row}"[:width].rstrip())
    return lines


def svg_gantt(bars: tuple[Bar, ...], unit: str, *, title: str) -> str:
    """A self-contained SVG of the same chart (for a browser or a release note)."""
    row_h, label_w, chart_w, top = 18, 110, 720, 40
    end = max((b.end_h for b in bars), default=1.0) or 1.0
    scale = chart_w / end
    ordered = sorted(bars, key=lambda b: (b.batch_id, b.start_h, b.fu_id))
    height = top + row_h * (len(ordered) + 2)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + chart_w + 20}" '
        f'height="{height}" font-family="monospace" font-size="12">',
        f'<text x="4" y="16" font-weight="bold">{escape(title)}</text>',
    ]
    ticks = 8
    for tick in range(ticks + 1):
        x = label_w + chart_w * tick / ticks
        parts.append(
            f'<line x1="{x:.1f}" y1="{top - 8}" x2="{x:.1f}" y2="{height - row_h}" stroke="#ddd"/>'
        )
        parts.append(
            f'<text x="{x:.1f}" y="{top - 12}" text-anchor="middle">'
            f"{escape(in_unit(end * tick / ticks, unit))}</text>"
        )
    batches = sorted({b.batch_id for b in ordered})
    colours = ("#4e79a7", "#59a14f", "#9c755f", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7")
    for index, bar in enumerate(ordered):
        y = top + row_h * index
        colour = "#e15759" if bar.high_risk else colours[batches.index(bar.batch_id) % 7]
        x = label_w + bar.start_h * scale
        w = max(1.0, (bar.end_h - bar.start_h) * scale)
        parts.append(f'<text x="4" y="{y + 13}">{escape(bar.fu_id)}</text>')
        parts.append(
            f'<rect x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{row_h - 4}" '
            f'fill="{colour}"><title>{escape(bar.fu_id)} batch {_batch(bar.batch_id)}: '
            f"{escape(in_unit(bar.start_h, unit))} to {escape(in_unit(bar.end_h, unit))}"
            "</title></rect>"
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
