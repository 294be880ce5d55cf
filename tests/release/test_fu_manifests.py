from __future__ import annotations

from pathlib import Path

from orchestrator.adapters.fu_manifests import apply_fu_manifests
from orchestrator.models.release import FeatureUnit, RiskLevel


def _repo(tmp_path: Path, risk: str) -> Path:
    folder = tmp_path / "docs/feature_units/completed/FU-050"
    folder.mkdir(parents=True)
    (folder / "FU-050_spec.md").write_text("# FU-050\n")
    (folder / "manifest.yaml").write_text(f'feature_id: "fu_050"\nrisk_level: "{risk}"\n')
    return tmp_path


SPEC = "docs/feature_units/completed/FU-050/FU-050_spec.md"


def test_an_fus_own_manifest_supplies_its_risk_level(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "High")
    units, notes = apply_fu_manifests([FeatureUnit(id="FU-050", spec_path=SPEC)], repo)
    assert units[0].risk_level is RiskLevel.HIGH
    assert notes == [
        "FU-050: risk_level high from docs/feature_units/completed/FU-050/manifest.yaml"
    ]


def test_the_release_manifest_wins_when_it_sets_a_risk_level(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "high")
    unit = FeatureUnit(id="FU-050", spec_path=SPEC, risk_level=RiskLevel.LOW)
    units, notes = apply_fu_manifests([unit], repo)
    assert units[0].risk_level is RiskLevel.LOW
    assert notes == []


def test_a_bad_value_is_noted_and_ignored(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "extreme")
    units, notes = apply_fu_manifests([FeatureUnit(id="FU-050", spec_path=SPEC)], repo)
    assert units[0].risk_level is RiskLevel.MEDIUM
    assert "is not low, medium or high" in notes[0]
