"""Batches that wait for each other to land: `orchd validate` names the FUs and batches, exits 2.

A dependency in another batch is met only when that whole batch lands, so batch 1 holding an FU
that waits for batch 2 while batch 2 holds one that waits for batch 1 can never finish.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from typer.testing import CliRunner

from orchestrator.cli import app

RELEASE = "v9.0.0"
Batches = Sequence[tuple[str, Sequence[str], Sequence[str]]]


def _validate(
    tmp_path: Path,
    units: Mapping[str, Sequence[str]],
    batches: Batches,
    deferred: Sequence[str] = (),
) -> tuple[int, list[str]]:
    """Write a manifest, run `orchd validate`; exit code and stderr lines, paths made relative."""
    lines = ["release:", f"  id: {RELEASE}", "execution_strategy:", "  type: multi_agent"]
    lines.append("feature_units:")
    for fu_id, deps in units.items():
        lines.append(f"  - id: {fu_id}")
        if deps:
            lines.append(f"    dependencies: [{', '.join(deps)}]")
    lines += ["execution_schedule:", "  batches:"]
    for batch_id, members, deps in batches:
        lines += [f"    - batch_id: {batch_id}", f"      feature_units: [{', '.join(members)}]"]
        if deps:
            lines.append(f"      dependencies: [{', '.join(deps)}]")
    if deferred:
        lines.append("deferred_to_v10:")
        lines += [f"  - id: {fu_id}" for fu_id in deferred]
    folder = tmp_path / "docs" / "releases" / "in_progress" / RELEASE
    folder.mkdir(parents=True)
    (folder / "manifest.yaml").write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(app, ["validate", RELEASE, "--repo-root", str(tmp_path)])
    prefix = f"{folder}/"
    return result.exit_code, [line.replace(prefix, "") for line in result.stderr.splitlines()]


CROSS = {"FU-010": ["FU-020"], "FU-011": [], "FU-020": [], "FU-021": ["FU-011"]}
TWO_BATCHES: Batches = [("1", ["FU-010", "FU-011"], []), ("2", ["FU-020", "FU-021"], [])]


def test_two_batches_waiting_for_each_other_is_an_error_naming_fus_and_batches(
    tmp_path: Path,
) -> None:
    code, errors = _validate(tmp_path, CROSS, TWO_BATCHES)
    assert code == 2
    assert errors == [
        "manifest.yaml:6:5: feature_units[FU-010].dependencies: FU-010 (batch 1) waits for "
        "FU-020 to land with batch 2, while FU-021 (batch 2) waits for FU-011 to land with "
        "batch 1: neither batch can land "
        "(move FU-020 or FU-011 so both are in one batch, or into an earlier batch)"
    ]


def test_a_dependency_in_the_same_batch_is_fine(tmp_path: Path) -> None:
    units = {"FU-010": ["FU-011"], "FU-011": [], "FU-020": ["FU-021"], "FU-021": []}
    code, errors = _validate(tmp_path, units, TWO_BATCHES)
    assert (code, errors) == (0, [])


def test_a_one_way_cross_batch_dependency_is_fine(tmp_path: Path) -> None:
    units = {"FU-010": [], "FU-011": [], "FU-020": ["FU-010"], "FU-021": ["FU-011", "FU-010"]}
    code, errors = _validate(tmp_path, units, TWO_BATCHES)
    assert (code, errors) == (0, [])


def test_a_batch_level_dependency_takes_part_in_the_cycle(tmp_path: Path) -> None:
    units = {"FU-010": [], "FU-011": [], "FU-020": [], "FU-021": ["FU-011"]}
    batches: Batches = [("1", ["FU-010", "FU-011"], ["FU-020"]), ("2", ["FU-020", "FU-021"], [])]
    code, errors = _validate(tmp_path, units, batches)
    assert code == 2
    assert errors == [
        "manifest.yaml:13:7: batches[1].dependencies: batch 1 waits for FU-020 (one of its "
        "dependencies) to land with batch 2, while FU-021 (batch 2) waits for FU-011 to land "
        "with batch 1: neither batch can land "
        "(move FU-020 or FU-011 so both are in one batch, or into an earlier batch)"
    ]


def test_deferred_fus_take_no_part(tmp_path: Path) -> None:
    code, errors = _validate(tmp_path, CROSS, TWO_BATCHES, deferred=["FU-021"])
    assert (code, errors) == (0, [])


def test_three_batches_in_a_ring_are_one_error(tmp_path: Path) -> None:
    units = {"FU-1": ["FU-3"], "FU-2": ["FU-5"], "FU-3": [], "FU-4": [], "FU-5": ["FU-4"]}
    batches: Batches = [
        ("0", ["FU-1", "FU-4"], []),
        ("1", ["FU-2", "FU-3"], []),
        ("2", ["FU-5"], []),
    ]
    code, errors = _validate(tmp_path, units, batches)
    assert code == 2
    assert errors == [
        "manifest.yaml:6:5: feature_units[FU-1].dependencies: FU-1 (batch 0) waits for FU-3 to "
        "land with batch 1, while FU-2 (batch 1) waits for FU-5 to land with batch 2, while "
        "FU-5 (batch 2) waits for FU-4 to land with batch 0: none of these batches can land "
        "(move one of FU-3, FU-5 or FU-4 into the batch that waits for it, "
        "or into an earlier batch)"
    ]


def test_a_plain_fu_cycle_across_batches_is_reported_once_as_a_dependency_cycle(
    tmp_path: Path,
) -> None:
    units = {"FU-010": ["FU-020"], "FU-020": ["FU-010"]}
    code, errors = _validate(tmp_path, units, [("1", ["FU-010"], []), ("2", ["FU-020"], [])])
    assert code == 2
    assert errors == [
        "manifest.yaml:6:5: feature_units[FU-010].dependencies: "
        "dependency cycle: FU-010 → FU-020 → FU-010 (remove one of these dependencies)"
    ]


def test_a_landing_cycle_beside_an_fu_cycle_is_still_reported(tmp_path: Path) -> None:
    units = {"FU-010": ["FU-020"], "FU-011": [], "FU-020": ["FU-010"], "FU-021": ["FU-011"]}
    code, errors = _validate(tmp_path, units, TWO_BATCHES)
    assert code == 2
    assert [e.split(": ", 2)[1] for e in errors] == [
        "feature_units[FU-010].dependencies",
        "feature_units[FU-010].dependencies",
    ]
    assert "dependency cycle: FU-010 → FU-020 → FU-010" in errors[0]
    assert (
        "FU-010 (batch 1) waits for FU-020 to land with batch 2, while FU-021 (batch 2) waits "
        "for FU-011 to land with batch 1: neither batch can land" in errors[1]
    )
