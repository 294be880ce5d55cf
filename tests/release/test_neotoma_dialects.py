"""neotoma's other manifest dialects, read from its real files (tests/release/neotoma_head/).

Issue 9: `execution_strategy.type: "single"` (v0.2.2), batch `dependencies: [0]` and
`checkpoints:` as a list with `trigger: "after_batch_1"` (v0.9.0) were refused, and one
checkpoint after a batch the release does not have (v2.1.0) refused the whole release.
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from orchestrator.adapters.release_loader import load_release
from orchestrator.errors import ValidationFailed
from orchestrator.models.release import StrategyType

HEAD = Path(__file__).parent / "neotoma_head"
V090 = "docs/releases/archived/aspirational/v0.9.0/manifest.yaml"
V210 = "docs/releases/archived/aspirational/v2.1.0/manifest.yaml"


def _copy(tmp_path: Path, manifest: str, old: str, new: str) -> Path:
    """The real release with one line changed (to get past an unrelated, real refusal)."""
    shutil.copytree(HEAD / "docs", tmp_path / "docs")
    path = tmp_path / manifest
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))
    return tmp_path


def _errors(release: str, root: Path, **kwargs: object) -> list[str]:
    with pytest.raises(ValidationFailed) as info:
        load_release(release, repo_root=root, **kwargs)  # type: ignore[arg-type]  # test kwargs
    return [e.render().split(f"{release}/", 1)[1] for e in info.value.errors]


def test_v022_single_strategy_runs_one_fu_at_a_time() -> None:
    plan = load_release("v0.2.2", repo_root=HEAD)
    assert plan.limits.type is StrategyType.SEQUENTIAL
    assert plan.limits.effective_parallel == 1
    assert [b.feature_units for b in plan.batches] == [("FU-304",)]
    assert [(c.name, c.after_batch) for c in plan.checkpoints] == [("1", Decimal(0))]
    assert {w.code for w in plan.warnings} == {"external_dependency", "no_spec"}


@pytest.mark.parametrize("word", ["single", "single_agent", "Single"])
def test_single_and_single_agent_mean_sequential(tmp_path: Path, word: str) -> None:
    root = _copy(tmp_path, "docs/releases/v0.2.2/manifest.yaml", '"single"', f'"{word}"')
    assert load_release("v0.2.2", repo_root=root).limits.type is StrategyType.SEQUENTIAL


def test_v090_is_refused_only_for_its_markdown_status_file() -> None:
    assert _errors("v0.9.0", HEAD) == [
        "manifest.yaml:19:18: execution_strategy.agent_spawning.status_file: "
        "'docs/releases/v0.9.0/status.md' does not end in .json: orchd would write its status "
        "JSON there (use a path such as docs/releases/v0.9.0/agent_status.json, or remove "
        "status_file to keep agent_status.json in the release folder)"
    ]


def test_v090_batch_id_dependency_means_every_fu_of_that_batch(tmp_path: Path) -> None:
    root = _copy(tmp_path, V090, "v0.9.0/status.md", "v0.9.0/agent_status.json")
    plan = load_release("v0.9.0", repo_root=root)
    assert [(b.batch_id, b.feature_units, b.dependencies) for b in plan.batches] == [
        (Decimal(0), ("FU-302",), ()),
        (Decimal(1), ("FU-303",), ("FU-302",)),
    ]


def test_v090_trigger_checkpoint_pauses_after_batch_1(tmp_path: Path) -> None:
    root = _copy(tmp_path, V090, "v0.9.0/status.md", "v0.9.0/agent_status.json")
    plan = load_release("v0.9.0", repo_root=root)
    assert [(c.name, c.after_batch, c.label) for c in plan.checkpoints] == [
        ("1", Decimal(1), "checkpoints[0].trigger")
    ]
    source = plan.checkpoints[0].source
    assert source is not None
    assert (source.line, source.col) == (55, 14)
    assert "checkpoint_ignored" not in {w.code for w in plan.warnings}


def test_a_batch_id_dependency_on_a_missing_batch_is_a_located_error(tmp_path: Path) -> None:
    root = _copy(tmp_path, V090, "      dependencies: [0]", "      dependencies: [0, 4]")
    errors = _errors("v0.9.0", root)  # after the status.md line (19), in file order
    assert errors[1] == (
        "manifest.yaml:48:25: execution_schedule.batches[1].dependencies[1]: batch 4 is not in "
        "execution_schedule.batches (use one of: 0, 1)"
    )


def test_a_batch_depending_on_its_own_id_is_a_located_error(tmp_path: Path) -> None:
    root = _copy(tmp_path, V090, "      dependencies: [0]", "      dependencies: [1]")
    assert _errors("v0.9.0", root)[1] == (
        "manifest.yaml:48:22: execution_schedule.batches[1].dependencies[0]: batch 1 depends "
        "on itself (remove it)"
    )


def test_a_trigger_that_names_no_batch_is_a_warning(tmp_path: Path) -> None:
    root = _copy(tmp_path, V090, "v0.9.0/status.md", "v0.9.0/agent_status.json")
    text = (root / V090).read_text().replace('"after_batch_1"', '"before_deploy"')
    (root / V090).write_text(text)
    plan = load_release("v0.9.0", repo_root=root)
    assert plan.checkpoints == ()
    [warning] = [w for w in plan.warnings if w.code == "checkpoint_ignored"]
    assert warning.render().endswith(
        "manifest.yaml:55:14: checkpoints[0].trigger: 'before_deploy' names no batch "
        '(after_batch_<id>); ignored (write trigger: "after_batch_1")'
    )


def test_v210_checkpoint_after_a_missing_batch_does_not_refuse_the_release() -> None:
    """v2.1.0 is still refused, but for its one real problem (FU-928 waits for an FU in no
    batch), not for `checkpoint_4_after_batch: 17`."""
    assert _errors("v2.1.0", HEAD, strategy_override=StrategyType.MULTI_AGENT) == [
        "manifest.yaml:253:5: feature_units[FU-928].dependencies: FU-928 depends on FU-923, "
        "which is in no batch and never runs: it would wait forever (add FU-923 to a batch)"
    ]


def test_v210_checkpoint_after_a_missing_batch_is_a_warning_naming_it(tmp_path: Path) -> None:
    root = _copy(tmp_path, V210, 'dependencies: ["FU-923"]', "dependencies: []")
    plan = load_release("v2.1.0", repo_root=root, strategy_override=StrategyType.MULTI_AGENT)
    [warning] = [w for w in plan.warnings if w.code == "checkpoint_unknown_batch"]
    assert warning.render() == (
        f"{root / V210}:328:3: checkpoints.checkpoint_4_after_batch: checkpoint 4 is after "
        "batch 17, which is not in the plan: that review pause will not happen "
        "(use one of: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)"
    )
    assert [c.after_batch for c in plan.checkpoints][:3] == [Decimal(3), Decimal(8), Decimal(11)]


def test_under_strict_the_missing_batch_checkpoint_is_an_error(tmp_path: Path) -> None:
    root = _copy(tmp_path, V210, 'dependencies: ["FU-923"]', "dependencies: []")
    errors = _errors("v2.1.0", root, strategy_override=StrategyType.MULTI_AGENT, strict=True)
    assert any(
        e.startswith("manifest.yaml:328:3: checkpoints.checkpoint_4_after_batch: checkpoint 4")
        for e in errors
    )


def test_batch_ids_in_dependencies_skip_deferred_fus_and_mix_with_fu_ids(tmp_path: Path) -> None:
    folder = tmp_path / "docs" / "releases" / "in_progress" / "v9.0.0"
    folder.mkdir(parents=True)
    (folder / "manifest.yaml").write_text(
        "release:\n  id: v9.0.0\nexecution_strategy:\n  type: multi_agent\n"
        "feature_units:\n  - id: FU-1\n  - id: FU-2\n  - id: FU-3\n  - id: FU-4\n"
        "execution_schedule:\n  batches:\n"
        "    - batch_id: 0\n      feature_units: [FU-1, FU-2, FU-9]\n"
        "    - batch_id: 0.5\n      feature_units: [FU-3]\n"
        '    - batch_id: 1\n      feature_units: [FU-4]\n      dependencies: ["0", FU-3, 0.5]\n'
        "checkpoints:\n  - after_batch: 0.5\n  - id: review\n    trigger: After_Batch_0\n"
        "deferred_to_v10:\n  - id: FU-2\n  - id: FU-9\n"
    )
    plan = load_release("v9.0.0", repo_root=tmp_path)
    assert plan.batches[-1].dependencies == ("FU-3", "FU-1")
    assert [(c.name, c.after_batch, c.label) for c in plan.checkpoints] == [
        ("1", Decimal("0.5"), "checkpoints[0].after_batch"),
        ("review", Decimal(0), "checkpoints[1].trigger"),
    ]
