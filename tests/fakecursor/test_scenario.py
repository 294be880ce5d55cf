"""Scenario files: YAML/JSON loading, located errors, and which FU a launch belongs to."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import ValidationFailed
from orchestrator.fakecursor.scenario import Scenario, load_scenario

YAML_TEXT = """\
time_scale: 3600
defaults:
  duration_s: 7200
fus:
  FU-110:
    hang: true
  FU-2026-04-aauth-hardware-attestation:
    fail_first_attempts: 2
rate_limit:
  every_n_requests: 10
  retry_after_s: 1
"""


def test_yaml_scenario_overrides_only_the_fields_an_fu_sets(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(YAML_TEXT)
    scenario = load_scenario(path)
    assert scenario.time_scale == 3600
    assert scenario.behaviour_for("FU-110").hang
    assert scenario.behaviour_for("FU-110").duration_s == 7200
    assert scenario.behaviour_for("FU-999").hang is False
    assert scenario.rate_limit is not None
    assert scenario.rate_limit.every_n_requests == 10


def test_json_scenario_loads(tmp_path: Path) -> None:
    path = tmp_path / "scenario.json"
    path.write_text('{"defaults": {"final_status": "ERROR"}}')
    assert load_scenario(path).behaviour_for(None).final_status == "ERROR"


def test_bad_field_is_reported_with_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text("fus:\n  FU-110:\n    final_status: DONE\n    hang: maybe\n")
    with pytest.raises(ValidationFailed) as caught:
        load_scenario(path)
    lines = str(caught.value).splitlines()
    assert lines[0].startswith(f"{path}:3:5: fus.FU-110.final_status:")
    assert lines[1].startswith(f"{path}:4:5: fus.FU-110.hang:")


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (("", "Implement FU-110 now"), "FU-110"),
        (("", "Implement FU-1100 now"), "FU-1100"),  # not FU-110: ids match whole
        (("FU-2026-04-aauth-hardware-attestation", "x"), "FU-2026-04-aauth-hardware-attestation"),
        (("release v0.3 / FU-2026-04-aauth", "x"), "FU-2026-04-aauth"),
        (("name FU-200", "prompt FU-110"), "FU-200"),  # the name wins over the prompt
        (("no id", "no id either"), None),
    ],
)
def test_launch_is_matched_to_its_fu_by_name_then_prompt(
    texts: tuple[str, str], expected: str | None
) -> None:
    scenario = Scenario.model_validate(
        {"fus": {"FU-110": {}, "FU-2026-04-aauth-hardware-attestation": {}}}
    )
    assert scenario.match_fu(*texts) == expected
