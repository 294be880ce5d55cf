"""Per-FU manifests (`docs/feature_units/<state>/<FU>/manifest.yaml`) as a second source.

neotoma records an FU's `risk_level` there (FU-050: high) even when the release manifest does
not; the high-risk limit must see it. The release manifest wins when it sets one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from orchestrator.models.release import FeatureUnit, RiskLevel


def _read(path: Path) -> Any:
    try:
        return YAML(typ="safe").load(path.read_text("utf-8"))
    except Exception:
        return None


def apply_fu_manifests(
    units: list[FeatureUnit], repo_root: Path
) -> tuple[list[FeatureUnit], list[str]]:
    """Units with `risk_level` filled from their own manifest; one note per value taken."""
    result: list[FeatureUnit] = []
    notes: list[str] = []
    for unit in units:
        if "risk_level" in unit.model_fields_set or not unit.spec_path:
            result.append(unit)
            continue
        path = repo_root / Path(unit.spec_path).parent / "manifest.yaml"
        data = _read(path) if path.is_file() else None
        raw = data.get("risk_level") if isinstance(data, dict) else None
        try:
            risk = RiskLevel(str(raw).strip().lower()) if raw is not None else None
        except ValueError:
            notes.append(f"{path}: risk_level {raw!r} is not low, medium or high; ignored")
            risk = None
        if risk is None:
            result.append(unit)
            continue
        result.append(unit.model_copy(update={"risk_level": risk}))
        notes.append(f"{unit.id}: risk_level {risk.value} from {path.relative_to(repo_root)}")
    return result, notes
