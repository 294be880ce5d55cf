"""A tiny project in a bare git repo, for the demo and tests: fake agents clone and push it.

Its test script passes exactly when every `fu/<FU>.md` the agents added names its FU, so a
merged `break_tests` branch (see agent_git.py) is what makes a gate fail.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from orchestrator.fakecursor.agent_git import git_env, run_git

SEED_NAME = "Fake Seed"
SEED_EMAIL = "seed@fake.cursor"

RUN_SH = """\
#!/bin/sh
# The project's tests: every fu/<FU>.md is non-empty and names its own FU.
set -e
cd "$(dirname "$0")/.."
count=0
for file in fu/*.md; do
  [ -e "$file" ] || continue
  fu=$(basename "$file" .md)
  if [ ! -s "$file" ]; then
    echo "FAIL: $file is empty" >&2
    exit 1
  fi
  if ! grep -qF -- "$fu" "$file"; then
    echo "FAIL: $file does not name $fu" >&2
    exit 1
  fi
  count=$((count + 1))
done
echo "ok: checked $count FU file(s)"
"""

IT_SH = """\
#!/bin/sh
# Integration tests named in a release plan: `tests/it.sh <name>` runs the project's tests.
set -e
echo "integration test: ${1:-all}"
exec "$(dirname "$0")/run.sh"
"""

CONFLICT_TXT = """\
line 1: the shared line every `conflict` agent rewrites
line 2: stays as it is
line 3: stays as it is
"""


def seed_repo(bare_path: Path, *, project: str = "demo") -> str:
    """Create a bare repo at `bare_path` (absent or empty) whose `main` holds the project;
    return its `file://` URL, which agents can be launched on."""
    if bare_path.exists() and any(bare_path.iterdir()):
        raise FileExistsError(f"{bare_path} exists and is not empty")
    bare_path.mkdir(parents=True, exist_ok=True)
    env = git_env(SEED_NAME, SEED_EMAIL)
    run_git(bare_path, "init", "--quiet", "--bare", "-b", "main", env=env)
    scratch = Path(tempfile.mkdtemp(prefix="orchd-seed-"))
    try:
        files = {
            "README.md": f"# {project}\n\nA seed project for orchd's fake Cursor agents.\n",
            "tests/run.sh": RUN_SH,
            "tests/it.sh": IT_SH,
            "shared/conflict.txt": CONFLICT_TXT,
        }
        for name, text in files.items():
            path = scratch / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            if name.endswith(".sh"):
                path.chmod(0o755)
        run_git(scratch, "init", "--quiet", "-b", "main", env=env)
        run_git(scratch, "add", "--all", env=env)
        run_git(scratch, "commit", "--quiet", "-m", f"{project}: seed project", env=env)
        run_git(scratch, "push", "--quiet", str(bare_path.resolve()), "main", env=env)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return bare_path.resolve().as_uri()
