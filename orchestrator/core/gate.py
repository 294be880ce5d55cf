"""Gate policy, pure: which steps run after a batch, and whether the batch passes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from orchestrator.models.gate import GateStep, GateTestResult, GateTestStatus
from orchestrator.models.release import IntegrationTest


def _command_for(
    test: IntegrationTest, template: str | None, overrides: Mapping[str, str]
) -> str | None:
    if test.id in overrides:
        return overrides[test.id]
    if test.command is None:
        return None
    # neotoma writes `test: "tests/integration/x.test.ts"`: a file for the template; a line
    # with spaces is already a command.
    if template and " " not in test.command.strip():
        return template.replace("{file}", test.command.strip())
    return test.command


def gate_steps(
    tests: Sequence[IntegrationTest],
    *,
    template: str | None,
    overrides: Mapping[str, str],
    release_command: str | None,
    shell: bool,
) -> list[GateStep]:
    """The IT tests in file order, then the release-wide gate command if configured."""
    steps = [
        GateStep(test.id, test.name, _command_for(test, template, overrides), shell)
        for test in tests
    ]
    if release_command:
        steps.append(GateStep("gate", "release gate command", release_command, shell))
    return steps


def tests_for_batch(
    tests: Sequence[IntegrationTest], batch_id: Decimal | None
) -> list[IntegrationTest]:
    """Tests covering `batch_id`; None means the full suite (after the last batch)."""
    if batch_id is None:
        return list(tests)
    return [t for t in tests if batch_id in t.batches]


def gate_passed(results: Sequence[GateTestResult], *, strict: bool) -> bool:
    """Failed, timed-out or unstartable tests block; `not_run` blocks only when strict."""
    for result in results:
        if result.status in {GateTestStatus.FAILED, GateTestStatus.TIMEOUT, GateTestStatus.ERROR}:
            return False
        if strict and result.status is GateTestStatus.NOT_RUN:
            return False
    return True


def failure_summary(results: Sequence[GateTestResult]) -> str:
    bad = [r for r in results if r.status is not GateTestStatus.PASSED]
    return "; ".join(
        f"{r.test_id} {r.status.value}" + (f" (log {r.log})" if r.log else "") for r in bad
    )


def gate_label(results: Sequence[GateTestResult], *, passed: bool) -> str:
    """`failed`, `passed`, or `no_tests` for a pass where no test had a command to run (shown
    as "passed (no tests ran)", never as a plain pass)."""
    if not passed:
        return "failed"
    if not any(r.status is GateTestStatus.PASSED for r in results):
        return "no_tests"
    return "passed"
