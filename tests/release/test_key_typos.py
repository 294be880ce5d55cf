"""A typo in a key orchd reads is a warning naming file:line:col and the key meant, in
`orchd validate` and `orchd start`; keys orchd does not read pass without a word."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from orchestrator import daemon
from orchestrator.adapters.release_loader import load_release
from orchestrator.cli import app
from orchestrator.errors import InputError

GOOD = """\
release:
  id: v9.0.0
  owner: someone
execution_strategy:
  type: multi_agent
feature_units:
  - id: FU-1
    complexity: low
    phase: 1
  - id: FU-2
    dependencies: [FU-1]
execution_schedule:
  detailed_plan: see the markdown
  batches:
    - batch_id: 0
      feature_units: [FU-1]
    - batch_id: 1
      feature_units: [FU-2]
      optional: false
checkpoints:
  checkpoint_1_after_batch: 0
acceptance_criteria: [works]
"""


def _folder(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "docs" / "releases" / "in_progress" / "v9.0.0"
    folder.mkdir(parents=True)
    (folder / "manifest.yaml").write_text(text)
    for fu in ("FU-1", "FU-2"):  # specs, so the only warnings are the ones under test
        spec = tmp_path / "docs" / "feature_units" / "in_progress" / fu / f"{fu}_spec.md"
        spec.parent.mkdir(parents=True)
        spec.write_text(f"# {fu}\n")
    return folder


def _validate(tmp_path: Path, text: str, *args: str) -> tuple[int, list[str]]:
    _folder(tmp_path, text)
    result = CliRunner().invoke(app, ["validate", "v9.0.0", "--repo-root", str(tmp_path), *args])
    lines = (result.stdout + result.stderr).splitlines()
    return result.exit_code, [line.split("v9.0.0/", 1)[1] for line in lines if "v9.0.0/" in line]


TYPOS = [
    (
        "depends_on in an FU",
        ("    dependencies: [FU-1]\n", "    depends_on: [FU-1]\n"),
        [
            "manifest.yaml:11:5: feature_units[FU-2].depends_on: is not a key orchd reads, so it "
            "is ignored (did you mean `dependencies`?)",
        ],
    ),
    (
        "dependences in an FU",
        ("    dependencies: [FU-1]\n", "    dependences: [FU-1]\n"),
        [
            "manifest.yaml:11:5: feature_units[FU-2].dependences: is not a key orchd reads, so it "
            "is ignored (did you mean `dependencies`?)",
        ],
    ),
    (
        "checkpoint at the top",
        ("checkpoints:\n", "checkpoint:\n"),
        [
            "manifest.yaml:20:1: checkpoint: is not a key orchd reads, so it is ignored "
            "(did you mean `checkpoints`?)",
        ],
    ),
    (
        "release name",
        ("  owner: someone\n", "  nmae: Tiny\n"),
        [
            "manifest.yaml:3:3: release.nmae: is not a key orchd reads, so it is ignored "
            "(did you mean `name`?)",
        ],
    ),
    (
        "batch feature units",
        ("    - batch_id: 1\n      feature_units:", "    - batch_id: 1\n      feature_unit:"),
        [
            "manifest.yaml:18:7: execution_schedule.batches[1].feature_unit: is not a key orchd "
            "reads, so it is ignored (did you mean `feature_units`?)",
            # what the typo does, said next
            "manifest.yaml:10:5: feature_units[FU-2]: FU-2 is in no batch: will not run (add it to "
            "a batch of execution_schedule)",
        ],
    ),
    (
        "schedule batches",
        ("  batches:\n", "  batchs:\n"),
        [
            "manifest.yaml:14:3: execution_schedule.batchs: is not a key orchd reads, so it is "
            "ignored (did you mean `batches`?)",
            "manifest.yaml: execution_schedule: no batches in manifest.yaml or "
            "execution_schedule.md: derived 2 batches from the FU dependencies "
            "(topological layers) (add execution_schedule.batches to choose them)",
        ],
    ),
    (
        "checkpoint key",
        ("checkpoint_1_after_batch", "checkpoint_1_after_bacth"),
        [
            "manifest.yaml:21:3: checkpoints.checkpoint_1_after_bacth: not of the form "
            "checkpoint_<name>_after_batch; ignored (did you mean `checkpoint_1_after_batch`?)",
        ],
    ),
    (
        "deferred section",
        ("acceptance_criteria: [works]\n", "defered_to_v10:\n  - id: FU-9\n"),
        [
            "manifest.yaml:22:1: defered_to_v10: is not a key orchd reads, so it is ignored "
            "(did you mean `deferred_to_v10`?)",
        ],
    ),
]


@pytest.mark.parametrize(("case", "edit", "expected"), TYPOS, ids=[t[0] for t in TYPOS])
def test_a_typo_of_a_key_orchd_reads_is_a_located_warning(
    tmp_path: Path, case: str, edit: tuple[str, str], expected: list[str]
) -> None:
    assert GOOD.count(edit[0]) == 1
    code, lines = _validate(tmp_path, GOOD.replace(*edit))
    assert code == 0
    assert lines == expected


def test_strict_makes_the_typo_an_error(tmp_path: Path) -> None:
    code, lines = _validate(
        tmp_path, GOOD.replace("    dependencies: [FU-1]\n", "    depends_on: [FU-1]\n"), "--strict"
    )
    assert code == 2
    assert lines == [
        "manifest.yaml:11:5: feature_units[FU-2].depends_on: is not a key orchd reads, so it is "
        "ignored (did you mean `dependencies`?)"
    ]


def test_a_typo_in_a_listed_checkpoint_is_a_warning(tmp_path: Path) -> None:
    text = GOOD.replace(
        "  checkpoint_1_after_batch: 0\n", '  - id: review\n    triger: "after_batch_0"\n'
    )
    _folder(tmp_path, text)
    plan = load_release("v9.0.0", repo_root=tmp_path)
    assert [w.message for w in plan.warnings if w.code == "near_miss_key"] == [
        "checkpoints[0].triger: is not a key orchd reads, so it is ignored "
        "(did you mean `trigger`?)"
    ]


def test_keys_orchd_does_not_read_pass_without_a_word(tmp_path: Path) -> None:
    code, lines = _validate(tmp_path, GOOD)
    assert code == 0
    assert lines == []


def test_orchd_start_prints_the_typo_before_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _folder(tmp_path, GOOD.replace("checkpoints:\n", "checkpoint:\n"))
    for name, value in {
        "CURSOR_CLOUD_API_URL": "https://api.test/v1",
        "CURSOR_CLOUD_API_KEY": "sk-test",
        "REPO_URL": "https://github.com/acme/neotoma",
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }.items():
        monkeypatch.setenv(name, value)

    async def key_accepted(*_: Any, **__: Any) -> None:
        raise InputError("stop before the key check")

    monkeypatch.setattr(daemon, "check_api_key", key_accepted)
    result = CliRunner().invoke(app, ["start", "v9.0.0", "--repo-root", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"warning: {tmp_path}/docs/releases/in_progress/v9.0.0/manifest.yaml:20:1: checkpoint: "
        "is not a key orchd reads, so it is ignored (did you mean `checkpoints`?)",
        "orchd: stop before the key check",
    ]
