"""Bad manifests: each problem is one line naming file:line:col, field, problem and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.adapters.release_loader import load_release
from orchestrator.adapters.release_paths import resolve_release_dir
from orchestrator.errors import InputError, LocatedError, ValidationFailed

HEADER = """release:
  id: v9.0.0
execution_strategy:
  type: multi_agent
"""
UNITS = """feature_units:
  - id: FU-1
  - id: FU-2
    dependencies: [FU-1]
"""


def _release(tmp_path: Path, text: str, **files: str) -> Path:
    folder = tmp_path / "docs" / "releases" / "in_progress" / "v9.0.0"
    folder.mkdir(parents=True)
    (folder / "manifest.yaml").write_text(text)
    for name, body in files.items():
        (folder / name).write_text(body)
    return folder


def _errors(tmp_path: Path, **kwargs: object) -> list[str]:
    with pytest.raises(ValidationFailed) as info:
        load_release("v9.0.0", repo_root=tmp_path, **kwargs)  # type: ignore[arg-type]  # test kwargs
    return [e.render().split("v9.0.0/", 1)[1] for e in info.value.errors]


CASES = [
    ("malformed yaml", "release: [\n", "manifest.yaml:2:1: manifest: malformed YAML"),
    (
        "typo in strategy",
        HEADER + "  max_paralel_fus: 2\n" + UNITS,
        "manifest.yaml:5:3: execution_strategy.max_paralel_fus: unknown key "
        "(did you mean `max_parallel_fus`?)",
    ),
    (
        "typo in retry",
        HEADER + "  retry:\n    max_retry: {P0: 1}\n" + UNITS,
        "manifest.yaml:6:5: execution_strategy.retry.max_retry: unknown key "
        "(did you mean `max_retries`?)",
    ),
    (
        "wrong type",
        HEADER + "  max_parallel_fus: many\n" + UNITS,
        "manifest.yaml:5:21: execution_strategy.max_parallel_fus: must be a whole number, "
        "got 'many'",
    ),
    (
        "limit below one",
        HEADER + "  max_parallel_fus: 0\n" + UNITS,
        "manifest.yaml:5:21: execution_strategy.max_parallel_fus: must be at least 1, got 0 "
        "(use 1 or more)",
    ),
    (
        "unknown strategy",
        "release:\n  id: v9.0.0\nexecution_strategy:\n  type: multi-agent\n" + UNITS,
        "manifest.yaml:4:9: execution_strategy.type: unknown strategy 'multi-agent' "
        "(did you mean `multi_agent`?)",
    ),
    (
        "duplicate fu",
        HEADER + UNITS + "  - id: FU-1\n",
        "manifest.yaml:9:5: feature_units[FU-1]: FU-1 is defined twice (first at line 6) "
        "(keep one entry per FU id)",
    ),
    (
        "cycle",
        HEADER + "feature_units:\n  - id: FU-1\n    dependencies: [FU-2]\n"
        "  - id: FU-2\n    dependencies: [FU-1]\n",
        "manifest.yaml:6:5: feature_units[FU-1].dependencies: dependency cycle: "
        "FU-1 → FU-2 → FU-1 (remove one of these dependencies)",
    ),
    (
        "unknown scheduled fu",
        HEADER + UNITS + "execution_schedule:\n  batches:\n    - batch_id: 0\n"
        "      feature_units: [FU-1, FU-2, FU-9]\n",
        "manifest.yaml:11:7: batches[0].feature_units: FU-9 is scheduled but is neither in "
        "feature_units nor deferred (add FU-9 to feature_units or remove it from batch 0)",
    ),
    (
        "fu in two batches",
        HEADER + UNITS + "execution_schedule:\n  batches:\n    - batch_id: 0\n"
        "      feature_units: [FU-1]\n    - batch_id: 0.5\n      feature_units: [FU-1, FU-2]\n",
        "manifest.yaml:13:7: batches[0.5].feature_units: FU-1 is already in batch 0 "
        "(list each FU in exactly one batch)",
    ),
    (
        "depends on deferred",
        HEADER + UNITS + "deferred_to_v10:\n  - id: FU-1\n",
        "manifest.yaml:7:5: feature_units[FU-2].dependencies: FU-2 depends on FU-1, which is "
        "deferred: it would wait forever",
    ),
    (
        "wrong release id",
        "release:\n  id: v9.0.1\nexecution_strategy:\n  type: multi_agent\n" + UNITS,
        "manifest.yaml:2:7: release.id: is 'v9.0.1' but release 'v9.0.0' was asked for",
    ),
]


@pytest.mark.parametrize(("case", "text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_manifest_gives_one_located_line(
    tmp_path: Path, case: str, text: str, expected: str
) -> None:
    errors = _errors(tmp_path) if _release(tmp_path, text) else []
    assert len(errors) == 1, errors
    assert errors[0].startswith(expected), errors[0]


def test_strategy_override_fixes_missing_type(tmp_path: Path) -> None:
    _release(tmp_path, "release:\n  id: v9.0.0\nexecution_limits:\n  max_parallel_fus: 2\n" + UNITS)
    plan = load_release("v9.0.0", repo_root=tmp_path, strategy_override="sequential")  # type: ignore[arg-type]  # StrEnum value
    assert plan.limits.effective_parallel == 1
    assert plan.limits.max_parallel_fus == 2


def test_orchd_keys_map_onto_limits_and_retry_policy(tmp_path: Path) -> None:
    text = (
        HEADER
        + (
            "  poll_interval_s: 5\n  stale_after_minutes: 3\n  auto_create_pr: false\n"
            "  retry:\n    max_retries: {P0: 5, p2: 1}\n    backoff_initial_s: 1\n"
        )
        + UNITS
    )
    _release(tmp_path, text)
    limits = load_release("v9.0.0", repo_root=tmp_path).limits
    assert (limits.poll_interval_s, limits.stale_after_minutes, limits.auto_create_pr) == (
        5.0, 3.0, False,
    )  # fmt: skip
    assert limits.retry.retries_for("P0") == 5  # type: ignore[arg-type]  # StrEnum value
    assert limits.retry.retries_for("P2") == 1  # type: ignore[arg-type]  # StrEnum value
    assert limits.retry.backoff_initial_s == 1.0


def test_batches_are_derived_from_dependencies_when_nothing_gives_them(tmp_path: Path) -> None:
    _release(tmp_path, HEADER + UNITS)
    plan = load_release("v9.0.0", repo_root=tmp_path)
    assert [b.feature_units for b in plan.batches] == [("FU-1",), ("FU-2",)]
    assert plan.schedule_source == "derived from dependencies"
    assert "derived_batches" in {w.code for w in plan.warnings}


def test_markdown_schedule_is_used_when_manifest_has_none(tmp_path: Path) -> None:
    md = "#### Batch 0.5: first\n\n- `FU-1`: One\n- `FU-2`: Two\n"
    _release(tmp_path, HEADER + UNITS, **{"execution_schedule.md": md})
    plan = load_release("v9.0.0", repo_root=tmp_path)
    assert [str(b.batch_id) for b in plan.batches] == ["0.5"]
    assert plan.fu("FU-1").name == "One"
    assert "same_batch_dependency" in {w.code for w in plan.warnings}


@pytest.mark.parametrize("bad", ["../v1", "/etc", "v1/../../x", "a/b", "latest", "v1..2"])
def test_release_ids_that_are_paths_are_rejected(tmp_path: Path, bad: str) -> None:
    with pytest.raises(LocatedError, match="not a version-like release id"):
        resolve_release_dir(bad, tmp_path, None)


def test_missing_release_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="also looked in"):
        load_release("v9.9.9", repo_root=tmp_path)
