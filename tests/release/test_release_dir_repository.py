"""With `--release-dir`, everything a release names is looked up in the release's repository.

Issue 9: specs, FU manifests and the prompt template were looked up under `--repo-root`, which
defaults to the current directory, so `orchd start v1 --release-dir ~/src/app/docs/releases/v1`
run from `~` sent agents prompts without their spec and with the packaged template.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.adapters.release_loader import load_release
from orchestrator.daemon import prepare_start
from orchestrator.daemon.prepare import _template_from_plan
from orchestrator.engine.configure import Overrides
from orchestrator.errors import InputError

RELEASE = "v9.1.0"
SPEC = "docs/feature_units/completed/FU-1/FU-1_spec.md"


def _checkout(tmp_path: Path, strategy_extra: str = "") -> tuple[Path, Path]:
    repo = tmp_path / "checkout"
    folder = repo / "docs" / "releases" / "in_progress" / RELEASE
    folder.mkdir(parents=True)
    (folder / "manifest.yaml").write_text(
        f"release:\n  id: {RELEASE}\nexecution_strategy:\n  type: multi_agent\n{strategy_extra}"
        "feature_units:\n  - id: FU-1\n"
    )
    spec = repo / SPEC
    spec.parent.mkdir(parents=True)
    spec.write_text("# FU-1\n")
    (spec.parent / "manifest.yaml").write_text("risk_level: high\n")
    elsewhere = tmp_path / "home"
    elsewhere.mkdir()
    return folder, elsewhere


def test_specs_and_fu_manifests_come_from_the_releases_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, elsewhere = _checkout(tmp_path)
    monkeypatch.chdir(elsewhere)
    plan = load_release(RELEASE, repo_root=Path("."), release_dir=folder)
    unit = plan.fu("FU-1")
    assert unit.spec_path == SPEC
    assert unit.risk_level is not None
    assert unit.risk_level.value == "high"
    assert plan.repository == str(tmp_path.resolve() / "checkout")
    assert not [w for w in plan.warnings if w.code == "no_spec"]


def test_the_manifests_relative_template_is_read_from_the_releases_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, elsewhere = _checkout(tmp_path, "  prompt_template: prompts/worker.md\n")
    template = tmp_path / "checkout" / "prompts" / "worker.md"
    template.parent.mkdir()
    template.write_text("Build $fu_id from the release's own template\n")
    (elsewhere / "prompts").mkdir()
    (elsewhere / "prompts" / "worker.md").write_text("the wrong template: $fu_id\n")
    monkeypatch.chdir(elsewhere)
    prepared = prepare_start(
        RELEASE,
        repo_root=Path("."),
        release_dir=folder,
        strategy=None,
        strict=False,
        overrides=Overrides(),
        prompt_template=None,
        env={
            "CURSOR_CLOUD_API_KEY": "k",
            "CURSOR_CLOUD_API_URL": "http://127.0.0.1:9/v1",
            "REPO_URL": "https://github.com/o/r",
        },
    )
    assert prepared.settings.prompt_template.startswith("Build $fu_id from the release's own")


def test_the_repositorys_conventional_template_is_used_not_the_cwds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, elsewhere = _checkout(tmp_path)
    config = tmp_path / "checkout" / "config"
    config.mkdir()
    (config / "worker_prompt.md").write_text("repo template $fu_id\n")
    (elsewhere / "config").mkdir()
    (elsewhere / "config" / "worker_prompt.md").write_text("cwd template $fu_id\n")
    monkeypatch.chdir(elsewhere)
    plan = load_release(RELEASE, repo_root=Path("."), release_dir=folder)
    assert _template_from_plan(plan) == config / "worker_prompt.md"


def test_a_relative_template_with_no_repository_is_one_clear_error(tmp_path: Path) -> None:
    loose = tmp_path / "loose" / RELEASE
    loose.mkdir(parents=True)
    (loose / "manifest.yaml").write_text(
        f"release:\n  id: {RELEASE}\nexecution_strategy:\n  type: multi_agent\n"
        "  prompt_template: prompts/worker.md\nfeature_units:\n  - id: FU-1\n"
    )
    plan = load_release(RELEASE, repo_root=Path("."), release_dir=loose)
    with pytest.raises(InputError) as info:
        _template_from_plan(plan)
    assert str(info.value) == (
        f"{loose}/manifest.yaml: prompt_template 'prompts/worker.md' is relative to the "
        "repository, and the release folder is in none; give an absolute path or "
        "--prompt-template"
    )
