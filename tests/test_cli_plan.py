"""`orchd plan`: the predicted makespan beside the bounds, and the Gantt chart (issue 12 §1)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from typer.testing import CliRunner

from orchestrator.cli import app

NEOTOMA = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "neotoma"


def _plan(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["plan", *args])
    return result.exit_code, result.output


def test_plan_prints_the_four_figures_against_the_bound(tmp_path: Path) -> None:
    svg = tmp_path / "v010.svg"
    code, out = _plan("v0.1.0", "--repo-root", str(NEOTOMA / "head"), "--svg", str(svg))
    assert code == 0, out
    lines = out.splitlines()
    assert "estimates for 21 of 28 FUs; the others count 0.5 d each (the median)" in lines
    assert "  orchd (predicted)            7.5 d   1.07x" in lines
    assert "  sequential sum                21 d   3.00x" in lines
    assert "  lower bound                    7 d   1.00x" in lines
    assert "  checkpoints after batch 0.6, 4 hold nothing (continue)" in lines
    drawn = [line for line in lines if not line.startswith("SVG written to")]
    assert all(len(line) <= 80 for line in drawn), max(drawn, key=len)
    rows = [line for line in lines if line.startswith("  FU-")]
    assert len(rows) == 28
    root = ET.fromstring(svg.read_text())
    rects = [e for e in root.iter() if e.tag.endswith("rect")]
    assert len(rects) == 28


def test_plan_shows_what_waiting_at_checkpoints_costs() -> None:
    code, out = _plan(
        "v0.1.0",
        "--repo-root",
        str(NEOTOMA / "head"),
        "--on-checkpoint",
        "wait",
        "--answer-hours",
        "4",
    )
    assert code == 0, out
    assert "  checkpoints after batch 0.6, 4 hold later batches until answered:" in out
    assert "  +3.5 d against --on-checkpoint continue" in out


def test_plan_of_an_unknown_release_is_one_line_and_exit_2(tmp_path: Path) -> None:
    code, out = _plan("v9.9.9", "--repo-root", str(tmp_path))
    assert code == 2
    assert len(out.strip().splitlines()) == 1
