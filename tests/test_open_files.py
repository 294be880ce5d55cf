"""orchd raises its own open-file limit at start (issue 12 §2): a stream per agent needs
thousands of descriptors, and systemd and most shells hand out a soft limit of 1024."""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest

_CHILD = """
import resource
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
from orchestrator.daemon.sizing import raise_open_file_limit
now = raise_open_file_limit()
print(now, *resource.getrlimit(resource.RLIMIT_NOFILE))
"""


def test_the_soft_open_file_limit_is_raised_to_the_hard_limit() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard <= 256:
        pytest.skip(f"the hard limit ({hard}) leaves nothing to raise")
    done = subprocess.run(
        [sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=60, check=True
    )
    reported, soft, hard_after = (int(x) for x in done.stdout.splitlines()[-1].split())
    assert hard_after == hard
    assert soft > 256
    assert reported == soft
    if hard != resource.RLIM_INFINITY:
        assert soft == hard
