"""The quick commands load only what they use: `orchd --help` builds from the commands'
signatures, `orchd validate` and `orchd status` read files; none of them loads the daemon, the
engine, the Cursor client, the fake or dashboard servers, or structlog. (Their times are in
tests/bench/bench_startup.py; a test here asserts what is loaded, never how long it took.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HEAVY = (
    "orchestrator.daemon",
    "orchestrator.engine",
    "orchestrator.fakecursor",
    "orchestrator.adapters.cursor",
    "orchestrator.adapters.dashboard",
    "starlette",
    "uvicorn",
    "prometheus_client",
    "httpx",
    "structlog",
)

# Runs orchd's entry point in a fresh interpreter, as the `orchd` script does, then reports what
# it printed, its exit code and which of HEAVY got imported.
RUN = """
import contextlib, io, json, sys
heavy = json.loads(sys.argv[1])
sys.argv = ["orchd", *sys.argv[2:]]
out, err, code = io.StringIO(), io.StringIO(), 0
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    from orchestrator.cli import main
    try:
        main()
    except SystemExit as exc:
        code = exc.code
loaded = sorted(h for h in heavy for m in list(sys.modules) if m == h or m.startswith(h + "."))
print(json.dumps({"out": out.getvalue(), "err": err.getvalue(), "code": code,
                  "loaded": sorted(set(loaded))}))
"""

MANIFEST = """\
release:
  id: v9.1.0
execution_strategy:
  type: multi_agent
feature_units:
  - id: FU-1
  - id: FU-2
    dependencies: [FU-1]
"""


def _orchd(*argv: str, heavy: tuple[str, ...] = HEAVY) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", RUN, json.dumps(heavy), *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["start", "--help"], ["demo", "--help"], ["dashboard", "--help"]],
    ids=" ".join,
)
def test_help_is_built_without_loading_the_daemon_servers_or_http_client(
    argv: list[str],
) -> None:
    result = _orchd(*argv)
    assert result["code"] == 0, result["err"]
    assert "Usage: orchd" in result["out"]
    assert result["loaded"] == []


def test_validate_and_status_read_a_release_without_loading_the_daemon_or_structlog(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "docs" / "releases" / "in_progress" / "v9.1.0"
    folder.mkdir(parents=True)
    (folder / "manifest.yaml").write_text(MANIFEST)
    (folder / "agent_status.json").write_text(
        json.dumps(
            {
                "release_id": "v9.1.0",
                "orchestrator": {"agent_id": "orchd_1", "status": "completed"},
                "batches": [
                    {
                        "batch_id": 0,
                        "status": "completed",
                        "feature_units": [{"fu_id": "FU-1", "status": "completed"}],
                    }
                ],
            }
        )
    )

    validated = _orchd("validate", "v9.1.0", "--repo-root", str(tmp_path))
    shown = _orchd("status", "v9.1.0", "--repo-root", str(tmp_path))

    assert validated["code"] == 0, validated["err"]
    assert "FU-2" in validated["out"]
    assert validated["loaded"] == []
    assert shown["code"] == 0, shown["err"]  # 0: the release completed
    assert "FU-1" in shown["out"]
    assert shown["loaded"] == []


PARSER = ("orchestrator.adapters.release_loader", "orchestrator.models.release", "ruamel")

MOVED = """\
release:
  id: v9.1.0
execution_strategy:
  type: multi_agent
  agent_spawning:
    status_file: "state/v9.1.0.json"  # neotoma's manifests name theirs
feature_units:
  - id: FU-1
  - id: FU-2
    dependencies: [FU-1]
"""


def _running_file(**orchestrator: Any) -> str:
    fus = [
        {"fu_id": "FU-1", "status": "completed", "run_time_s": 1800.0, "estimate_h": 1.0},
        {"fu_id": "FU-2", "status": "pending", "estimate_h": 4.0},
    ]
    return json.dumps(
        {
            "release_id": "v9.1.0",
            "orchestrator": {"agent_id": "orchd_1", "status": "running", **orchestrator},
            "batches": [{"batch_id": 0, "status": "running", "feature_units": fus}],
        }
    )


def _moved_release(root: Path, status: str) -> None:
    folder = root / "docs" / "releases" / "in_progress" / "v9.1.0"
    folder.mkdir(parents=True)
    (folder / "manifest.yaml").write_text(MOVED)
    (root / "state").mkdir()
    (root / "state" / "v9.1.0.json").write_text(status)


def test_status_reads_the_file_orchd_wrote_without_parsing_the_manifest(tmp_path: Path) -> None:
    _moved_release(tmp_path, _running_file(max_parallel_fus=2))  # an older orchd's

    shown = _orchd("status", "v9.1.0", "--repo-root", str(tmp_path), heavy=PARSER)

    assert shown["code"] == 12, shown["err"]  # running, but no orchd: the file was found
    # the ETA from the estimates the file records: 4 h of estimates at the pace of FU-1
    assert "4h of estimates left" in shown["out"].replace("\n", " ")
    assert shown["loaded"] == []
    others = tuple(f"orchestrator.cli.{m}" for m in ("doctor", "start", "demo", "validate"))
    alone = _orchd("status", "v9.1.0", "--repo-root", str(tmp_path), heavy=others)
    assert alone["loaded"] == []  # `orchd status` imports no other command


def test_status_loads_the_release_for_a_file_that_does_not_record_the_plan(
    tmp_path: Path,
) -> None:
    _moved_release(tmp_path, _running_file())  # an older orchd's

    shown = _orchd("status", "v9.1.0", "--repo-root", str(tmp_path), heavy=PARSER)

    assert shown["code"] == 12, shown["err"]
    assert "orchestrator.adapters.release_loader" in shown["loaded"]
