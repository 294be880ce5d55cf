"""Fuzz: no input to the loaders produces a traceback — a plan, or an InputError, only."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.adapters.release_loader import load_release
from orchestrator.adapters.status_read import load_status_file
from orchestrator.core.integration_md import parse_integration_md
from orchestrator.core.schedule_md import parse_schedule_md
from orchestrator.core.status_normalise import normalise_status
from orchestrator.errors import InputError

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=25,
)
KEYS = st.sampled_from([
    "release_id", "orchestrator", "batches", "errors", "completed_fus", "feature_units",
    "fu_id", "batch_id", "status", "progress", "started_at", "worker_agent_id", "agent_id",
    "current_batch", "timestamp", "at", "gate", "attempts", "pid",
])  # fmt: skip
STATUSISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=6),
    max_leaves=40,
)
LINES = st.sampled_from([
    "release:", "  id: v1.0.0", "execution_strategy:", "  type: multi_agent",
    "  max_parallel_fus: 0",
    "  retry:", "    max_retries: {P0: x}", "feature_units:", "  - id: FU-1", "  - id: FU-2",
    "    dependencies: [FU-1, FU-9]", "    risk: High", "execution_schedule:", "  batches:",
    "    - batch_id: 0.5", "      feature_units: [FU-1, FU-2]", "checkpoints:",
    "  checkpoint_a_after_batch: 0.5", "deferred_x:", "  - FU-2: later", "  - {id: 3}",
    "- `FU-1`: x", "#### Batch 0.5: y", "[", "&a x", "*a", "key: [1, {2: 3}]", "\t", ": :",
])  # fmt: skip


@FUZZ
@given(STATUSISH | JSON)
def test_status_normalise_never_raises(raw: Any) -> None:
    status, notes = normalise_status(raw)
    json.loads(status.model_dump_json())
    assert all(isinstance(n, str) for n in notes)


@FUZZ
@given(st.text(max_size=400) | st.lists(LINES, max_size=25).map("\n".join))
def test_markdown_parsers_never_raise(text: str) -> None:
    parse_schedule_md(text)
    parse_integration_md(text, file="x.md")


@FUZZ
@given(
    st.lists(LINES, max_size=30).map("\n".join) | st.text(max_size=300),
    st.lists(LINES, max_size=10).map("\n".join),
)
def test_release_loader_gives_a_plan_or_an_input_error(
    tmp_path: Path, manifest: str, md: str
) -> None:
    folder = tmp_path / "docs" / "releases" / "in_progress" / "v1.0.0"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.yaml").write_text(manifest, encoding="utf-8")
    (folder / "execution_schedule.md").write_text(md, encoding="utf-8")
    (folder / "integration_tests.md").write_text(md, encoding="utf-8")
    with contextlib.suppress(InputError):
        load_release("v1.0.0", repo_root=tmp_path, strict_batches=True)


@FUZZ
@given(st.text(max_size=200) | JSON.map(json.dumps))
def test_status_file_reader_gives_a_status_or_an_input_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "agent_status.json"
    path.write_text(text, encoding="utf-8")
    with contextlib.suppress(InputError):
        load_status_file(path)
