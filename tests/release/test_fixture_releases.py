"""Every real neotoma release in the fixtures loads with the plan (or the error) a user expects."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.adapters.release_loader import load_release
from orchestrator.adapters.status_read import load_status_file
from orchestrator.cli import app
from orchestrator.errors import ValidationFailed
from orchestrator.models.release import StrategyType

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "neotoma"
pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason="neotoma fixtures not present")


# folder, release, --strategy, batches, FUs, deferred, warning codes expected
VALID = [
    ("229ea54", "v0.1.0", None, 14, 28, 0,
     {"schedule_disagrees", "same_batch_dependency", "later_batch_dependency", "no_spec"}),
    ("2496386", "v0.1.1", None, 4, 4, 0, {"external_dependency", "no_spec"}),
    ("2a9e9b0", "v0.2.0", None, 5, 14, 5,
     {"deferred_scheduled", "same_batch_dependency", "test_without_batch", "no_spec"}),
    ("148e1fa", "v0.1.0", StrategyType.MULTI_AGENT, 10, 21, 0, {"no_spec"}),
    ("2c1b61e", "v2.0.0", StrategyType.MULTI_AGENT, 10, 13, 0,
     {"same_batch_dependency", "no_spec"}),
    ("head", "v0.1.0", None, 14, 28, 0,
     {"schedule_disagrees", "same_batch_dependency", "later_batch_dependency", "no_spec"}),
    ("head", "v0.1.1", None, 4, 4, 0, {"external_dependency", "no_spec"}),
    ("head", "v1.0.0", StrategyType.MULTI_AGENT, 4, 9, 0,
     {"unscheduled_fu", "external_dependency", "no_spec"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("folder", "release", "strategy", "batches", "fus", "deferred", "codes"), VALID
)
def test_real_release_loads_with_expected_shape_and_warnings(
    folder: str,
    release: str,
    strategy: StrategyType | None,
    batches: int,
    fus: int,
    deferred: int,
    codes: set[str],
) -> None:
    plan = load_release(release, repo_root=FIXTURES / folder, strategy_override=strategy)
    assert (len(plan.batches), len(plan.feature_units), len(plan.deferred)) == (
        batches,
        fus,
        deferred,
    )
    assert {w.code for w in plan.warnings} == codes


def test_v010_keeps_fractional_batches_distinct_and_in_order() -> None:
    plan = load_release("v0.1.0", repo_root=FIXTURES / "229ea54")
    ids = [b.batch_id for b in plan.batches]
    assert ids[:5] == [Decimal(0), Decimal("0.5"), Decimal("0.6"), Decimal("0.7"), Decimal("0.8")]
    assert {Decimal("6.5"), Decimal("6.6")} <= set(ids)
    assert [c.after_batch for c in plan.checkpoints] == [Decimal("0.6"), Decimal(4)]
    assert [t.id for t in plan.tests_for(Decimal("0.5"))] == ["IT-007"]


def test_v020_takes_machine_readable_batches_and_skips_deferred_fu112() -> None:
    plan = load_release("v0.2.0", repo_root=FIXTURES / "2a9e9b0")
    assert plan.schedule_source == "execution_schedule.md (machine-readable section)"
    assert plan.batches[0].feature_units == ("FU-110", "FU-113")
    assert "FU-112" in plan.deferred
    assert plan.fu("FU-110").extra == {"status": "not_started", "phase": 1}


def test_v200_reads_legacy_risk_key_case_insensitively() -> None:
    plan = load_release(
        "v2.0.0", repo_root=FIXTURES / "2c1b61e", strategy_override=StrategyType.MULTI_AGENT
    )
    assert plan.fu("FU-850").risk_level.value == "high"
    assert plan.fu("FU-850").extra["complexity"] == "High"
    assert plan.batches[-1].extra == {"optional": True}


def test_head_layout_falls_back_to_docs_releases_with_a_note_and_finds_specs() -> None:
    plan = load_release("v0.1.0", repo_root=FIXTURES / "head")
    assert plan.release_dir.endswith("docs/releases/v0.1.0")
    assert "in_progress" in plan.notes[0]
    assert plan.fu("FU-050").spec_path == "docs/feature_units/completed/FU-050/FU-050_spec.md"


def test_archived_release_is_found_under_archived_folder() -> None:
    plan = load_release(
        "v1.0.0", repo_root=FIXTURES / "head", strategy_override=StrategyType.MULTI_AGENT
    )
    assert "archived/aspirational/v1.0.0" in plan.release_dir


# folder, release, strategy, strict_batches, the one error line's tail
INVALID = [
    ("148e1fa", "v0.1.0", None, False,
     "manifest.yaml:9:1: execution_strategy.type: missing: orchd does not know how to run the "
     "release (add `type: multi_agent` under execution_strategy, or pass --strategy multi_agent)"),
    ("2c1b61e", "v2.0.0", None, False, "manifest.yaml:15:1: execution_strategy.type: missing"),
    ("head", "v1.0.0", None, False, "manifest.yaml:17:1: execution_strategy.type: missing"),
    ("head", "v0.3.11", StrategyType.MULTI_AGENT, False,
     "manifest.yaml: feature_units: no feature units: there is nothing for orchd to run"),
    ("229ea54", "v0.1.0", None, True,
     "manifest.yaml:57:5: feature_units[FU-059].dependencies: with --strict-batches FU-059 "
     "(batch 0.8) waits for FU-103 (its own dependency) in later batch 3"),
    ("head", "v0.2.1", None, False,
     "manifest.yaml:19:18: execution_strategy.agent_spawning.status_file: "
     "'docs/releases/v0.2.1/status.md' does not end in .json: orchd would write its status "
     "JSON there (use a path such as docs/releases/v0.2.1/agent_status.json, or remove "
     "status_file to keep agent_status.json in the release folder)"),
]  # fmt: skip


@pytest.mark.parametrize(("folder", "release", "strategy", "strict_batches", "line"), INVALID)
def test_inconsistent_real_release_fails_with_the_true_reason(
    folder: str, release: str, strategy: StrategyType | None, strict_batches: bool, line: str
) -> None:
    with pytest.raises(ValidationFailed) as info:
        load_release(
            release,
            repo_root=FIXTURES / folder,
            strategy_override=strategy,
            strict_batches=strict_batches,
        )
    rendered = [e.render() for e in info.value.errors]
    assert len(rendered) == 1
    assert line in rendered[0]


def test_v021_loads_once_its_status_file_is_a_json_file(tmp_path: Path) -> None:
    """v0.2.1 names its human-written status.md as status_file (refused above); with that one
    line changed the rest of the release is as neotoma wrote it."""
    folder = tmp_path / "docs" / "releases" / "v0.2.1"
    shutil.copytree(FIXTURES / "head" / "docs" / "releases" / "v0.2.1", folder)
    manifest = folder / "manifest.yaml"
    text = manifest.read_text()
    assert text.count("v0.2.1/status.md") == 1
    manifest.write_text(text.replace("v0.2.1/status.md", "v0.2.1/agent_status.json"))
    plan = load_release("v0.2.1", repo_root=tmp_path)
    assert (len(plan.batches), len(plan.feature_units), len(plan.deferred)) == (2, 2, 2)
    assert {w.code for w in plan.warnings} == {"test_unknown_batch", "no_spec"}
    assert plan.limits.status_file == str(folder / "agent_status.json")


def test_validate_command_prints_plan_and_exits_zero() -> None:
    root = FIXTURES / "2496386"
    result = CliRunner().invoke(app, ["validate", "v0.1.1", "--repo-root", str(root)])
    assert result.exit_code == 0, result.output
    assert "Batch 2: MCP Support Inquiry Endpoint" in result.stdout
    assert "checkpoint 2: human review after this batch" in result.stdout
    assert "assumed complete (external)" in result.stdout


def test_validate_command_reports_errors_one_per_line_and_exits_two() -> None:
    root = FIXTURES / "head"
    result = CliRunner().invoke(app, ["validate", "v0.3.11", "--repo-root", str(root)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2
    assert "execution_strategy.type: missing" in lines[0]
    assert "no feature units" in lines[1]


def test_strict_turns_warnings_into_errors() -> None:
    root = FIXTURES / "2496386"
    result = CliRunner().invoke(app, ["validate", "v0.1.1", "--repo-root", str(root), "--strict"])
    assert result.exit_code == 2
    assert "assumed complete (external)" in result.stderr


@pytest.mark.parametrize(
    "folder", ["2a9e9b0", "c082195", "0cd2087", "a01fd08", "ccf4c28", "de3aa4e", "head"]
)
def test_real_status_files_are_read_without_error(folder: str) -> None:
    path = FIXTURES / folder / "docs/releases/in_progress/v0.2.0/agent_status.json"
    status, _notes = load_status_file(path)
    assert status.release_id == "v0.2.0"
    assert len(status.batches) == 5


def test_schema_commands_print_json_schemas() -> None:
    runner = CliRunner()
    manifest = json.loads(runner.invoke(app, ["schema", "manifest"]).stdout)
    status = json.loads(runner.invoke(app, ["schema", "status"]).stdout)
    assert "feature_units" in manifest["properties"]
    assert set(status["required"]) == {"release_id", "orchestrator"}
