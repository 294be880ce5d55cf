"""Suite-wide test plumbing."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Generator
from typing import Any

import pytest
import structlog


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, Any, Any]:
    """looptime's hook asks the policy for a loop even in sync tests, which creates one that is
    never closed (a ResourceWarning, an error here); lend sync tests a loop and close it after."""
    # pytest-asyncio wraps async tests in a sync function, so look at the marker too.
    if pyfuncitem.get_closest_marker("asyncio") is not None or inspect.iscoroutinefunction(
        pyfuncitem.obj
    ):
        return (yield)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return (yield)
    finally:
        asyncio.set_event_loop(None)
        loop.close()


@pytest.fixture(autouse=True)
def _fresh_structlog() -> Generator[None, None, None]:
    """CLI tests configure logging (level, stream); keep that from leaking into other tests."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.fixture(autouse=True, scope="session")
def _private_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Generator[None, None, None]:
    """orchd's default state dir (release locks, decisions, gate logs) in a temp dir, for this
    process and the orchd processes tests start (module fixtures too): never the user's
    ~/.local/state/orchd."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("STATE_DIRECTORY", raising=False)
        patch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("xdg-state")))
        yield
