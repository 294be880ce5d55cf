from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.adapters.prompt_template import default_template, load_prompt_template
from orchestrator.core.prompt import PLACEHOLDERS, render_prompt
from orchestrator.errors import LocatedError


def test_unknown_placeholder_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "worker_prompt.md"
    path.write_text("Build $fu_id.\nRead $spec_pth first.\n")
    with pytest.raises(LocatedError) as caught:
        load_prompt_template(path)
    text = str(caught.value)
    assert text.startswith(f"{path}:2: prompt_template: unknown placeholder $spec_pth")
    assert "$spec_path" in text


def test_default_and_shipped_templates_fill_every_placeholder_and_hold_no_secret() -> None:
    shipped = Path(__file__).resolve().parents[1] / "config" / "worker_prompt.md"
    for template in (default_template(), load_prompt_template(shipped)):
        values = {name: f"<{name}>" for name in PLACEHOLDERS}
        text = render_prompt(template, values)
        assert "<fu_id>" in text
        assert "<spec_path>" in text
        assert "$" not in text.replace("$$", "")
        assert "agent_status.json" in text  # only to say: do not edit it
        assert "API_KEY" not in text
